#!/bin/bash
#
# The few devstack helpers that devstack/plugin.sh and devstack/settings
# call, for tests/unit/test_devstack_plugin.py: devstack itself cannot run
# there.
#
# Written for this project from devstack's documented behaviour (no line
# of devstack is copied here):
#
# * the ini helpers (iniset, iniget, iniget_multiline, iniset_multiline,
#   iniadd, ini_has_option, inidelete) edit the file as devstack's
#   inc/ini-config does: a new section goes to the end of the file, a new
#   option right below its section's header, values are word-split (runs
#   of blanks become one space), iniget strips through the first "=" and
#   iniadd appends to a multi-valued option without removing duplicates;
# * the service helpers (is_service_enabled, enable_service,
#   disable_service) work on ENABLED_SERVICES and DISABLED_SERVICES, as
#   functions-common's do (with the "nova" and "n-cpu-*" catch-alls);
# * trueorfalse, get_python_exec_prefix, define_plugin, echo_summary, warn
#   and die behave as devstack's;
# * the helpers that act on the machine (run_process, stop_process,
#   setup_develop, pip_install, sudo) only record their call, one line per
#   call, fields separated by "|", in $DEVSTACK_SHIM_LOG; run_process
#   refuses a command without an absolute path, as devstack's does under
#   systemd; sudo then runs its command as the current user.
#
# With DEVSTACK_DIR set to a devstack tree, devstack's own functions-common,
# inc/ini-config and inc/python are sourced instead, and only the helpers
# that act on the machine are replaced by the recording ones: the same
# tests then run against devstack's real helpers.

: "${DEVSTACK_SHIM_LOG:?DEVSTACK_SHIM_LOG must name the call log}"

function _shim_record {
    local IFS='|'
    echo "$*" >> "$DEVSTACK_SHIM_LOG"
}

if [[ -n "$DEVSTACK_DIR" ]]; then
    # shellcheck disable=SC2034
    TOP_DIR=$DEVSTACK_DIR
    # shellcheck source=/dev/null
    source "$DEVSTACK_DIR/functions-common"
    # shellcheck source=/dev/null
    source "$DEVSTACK_DIR/inc/ini-config"
    # shellcheck source=/dev/null
    source "$DEVSTACK_DIR/inc/python"
    # get_python_exec_prefix asks the OS otherwise.
    os_PACKAGE=${os_PACKAGE:-deb}
    if ! declare -F echo_summary > /dev/null; then
        # stack.sh's own
        function echo_summary {
            echo "$@"
        }
    fi
else

# The ini helpers
# ---------------

# _shim_ini_lines file section option - the lines "option = value" of the
# option in every [section] block, as they are
function _shim_ini_lines {
    awk -v section="$2" -v option="$3" '
        /^\[.*\]/ { inside = ($0 == "[" section "]"); next }
        inside {
            line = $0
            if (index(line, option) != 1) next
            rest = substr(line, length(option) + 1)
            if (rest ~ /^[ \t]*=/) print line
        }' "$1"
}

function ini_has_option {
    if [[ "$1" == "-sudo" ]]; then shift; fi
    [[ -n "$(_shim_ini_lines "$1" "$2" "$3" 2>/dev/null)" ]]
}

function iniget {
    local line
    line=$(_shim_ini_lines "$1" "$2" "$3")
    # word-split on purpose: leading and trailing blanks go, as in devstack
    # shellcheck disable=SC2086
    echo ${line#*=}
}

function iniget_multiline {
    local values
    values=$(_shim_ini_lines "$1" "$2" "$3" | sed -e 's/^[^=]*=[ \t]*//')
    # shellcheck disable=SC2086
    echo ${values}
}

# _shim_ini_edit file section option mode [value...] - one awk pass:
#   set:    replace the value of every line of the option in the section;
#   delete: remove every line of the option in the section;
#   add:    add "option = value" lines below each header of the section,
#           in the order given.
function _shim_ini_edit {
    local file=$1 section=$2 option=$3 mode=$4
    shift 4
    local tmp
    tmp=$(mktemp "$file.XXXXXX")
    awk -v section="$section" -v option="$option" -v mode="$mode" '
        BEGIN {
            n = ARGC - 2
            for (i = 1; i <= n; i++) { values[i] = ARGV[i + 1]; ARGV[i + 1] = "" }
        }
        function is_option(line,   rest) {
            if (index(line, option) != 1) return 0
            rest = substr(line, length(option) + 1)
            return rest ~ /^[ \t]*=/
        }
        /^\[.*\]/ {
            inside = ($0 == "[" section "]")
            print
            if (inside && mode == "add") {
                for (i = 1; i <= n; i++) print option " = " values[i]
            }
            next
        }
        inside && is_option($0) {
            if (mode == "delete") next
            if (mode == "set") {
                match($0, /^[^=]*=[ \t]*/)
                print substr($0, 1, RLENGTH) values[1]
                next
            }
        }
        { print }
    ' "$file" "$@" > "$tmp"
    cat "$tmp" > "$file"
    rm -f "$tmp"
}

function _shim_ini_ensure_section {
    local file=$1 section=$2
    if ! grep -q "^\[$section\]" "$file" 2>/dev/null; then
        echo -e "\n[$section]" >> "$file"
    fi
}

function iniset {
    if [[ "$1" == "-sudo" ]]; then shift; fi
    local file=$1 section=$2 option=$3 value
    # shellcheck disable=SC2086,SC2116
    value=$(echo $4)
    if [[ -z "$section" || -z "$option" ]]; then
        return
    fi
    _shim_ini_ensure_section "$file" "$section"
    if ini_has_option "$file" "$section" "$option"; then
        _shim_ini_edit "$file" "$section" "$option" set "$value"
    else
        _shim_ini_edit "$file" "$section" "$option" add "$value"
    fi
}

function inidelete {
    if [[ "$1" == "-sudo" ]]; then shift; fi
    if [[ -z "$2" || -z "$3" ]]; then
        return
    fi
    _shim_ini_edit "$1" "$2" "$3" delete
}

function iniset_multiline {
    if [[ "$1" == "-sudo" ]]; then shift; fi
    local file=$1 section=$2 option=$3
    shift 3
    if grep -q "^\[$section\]" "$file" 2>/dev/null; then
        _shim_ini_edit "$file" "$section" "$option" delete
    else
        _shim_ini_ensure_section "$file" "$section"
    fi
    # word-split on purpose, as devstack: one line per word
    # shellcheck disable=SC2068
    _shim_ini_edit "$file" "$section" "$option" add $@
}

function iniadd {
    local sudo=""
    if [[ "$1" == "-sudo" ]]; then sudo="-sudo"; shift; fi
    local file=$1 section=$2 option=$3
    shift 3
    local values
    values="$(iniget_multiline "$file" "$section" "$option") $*"
    # shellcheck disable=SC2086
    iniset_multiline $sudo "$file" "$section" "$option" $values
}


# Services, plugins, booleans, messages
# -------------------------------------

function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
        [[ $service == n-cpu-* && ",$ENABLED_SERVICES" == *",n-cpu"* ]] && return 0
        [[ $service == nova && ",$ENABLED_SERVICES" == *",n-"* ]] && return 0
    done
    return 1
}

function enable_service {
    local service
    for service in "$@"; do
        if [[ ",$DISABLED_SERVICES," == *",$service,"* ]]; then
            warn $LINENO "Attempt to enable_service $service when it has been disabled"
            continue
        fi
        if ! is_service_enabled "$service"; then
            ENABLED_SERVICES="${ENABLED_SERVICES:+$ENABLED_SERVICES,}$service"
        fi
    done
}

function disable_service {
    local service
    for service in "$@"; do
        DISABLED_SERVICES="${DISABLED_SERVICES:+$DISABLED_SERVICES,}$service"
        ENABLED_SERVICES=$(echo ",$ENABLED_SERVICES," | sed -e "s/,$service,/,/g" -e 's/^,//' -e 's/,$//')
    done
}

function define_plugin {
    :
}

function trueorfalse {
    local default=$1
    if [[ -z "$2" ]]; then
        die $LINENO "variable to normalize required"
    fi
    local testval=${!2:-}
    case "$testval" in
        1 | [yY]es | YES | [tT]rue | TRUE) echo True ;;
        0 | [nN]o | NO | [fF]alse | FALSE) echo False ;;
        *) echo "$default" ;;
    esac
}

function get_python_exec_prefix {
    if [[ "$GLOBAL_VENV" == "True" ]]; then
        echo "$DEVSTACK_VENV/bin"
    else
        echo "/usr/local/bin"
    fi
}

function echo_summary {
    echo "$@"
}

function warn {
    # shellcheck disable=SC2319
    local exitcode=$?
    echo "[WARNING] ${BASH_SOURCE[1]}:$1 $2"
    _shim_record warn "$2"
    return $exitcode
}

function die {
    echo "[ERROR] ${BASH_SOURCE[1]}:$1 $2" >&2
    exit 1
}

fi


# The helpers that act on the machine: recorded only
# --------------------------------------------------

# run_process service "command" [group] [user] [env_vars]
function run_process {
    local service=$1 command=$2 group=$3 user=$4
    if [[ "$command" =~ sudo ]]; then
        die $LINENO "run_process with sudo does not work under systemd"
    fi
    if [[ ! "$command" =~ ^/ ]]; then
        die $LINENO "run_process: $command does not start with an absolute path"
    fi
    if is_service_enabled "$service"; then
        _shim_record run_process "$service" "$command" "$group" "$user"
    fi
}

function stop_process {
    if is_service_enabled "$1"; then
        _shim_record stop_process "$1"
    fi
}

function setup_develop {
    _shim_record setup_develop "$@"
}

function pip_install {
    _shim_record pip_install "$@"
}

function sudo {
    _shim_record sudo "$@"
    "$@"
}
