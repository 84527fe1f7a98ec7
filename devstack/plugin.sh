#!/bin/bash
#
# plugin.sh - DevStack plugin of nova-migcompat
#
#   source devstack/plugin.sh <mode> [phase]
#
# stack install      install the project (and register the tempest plugin)
# stack post-config  the filter in $NOVA_CONF (node with n-sch)
# stack extra        the agent's configuration and the agent (nodes with n-cpu)
# stack test-config  tempest.conf (node with tempest)
# unstack            stop the agent
# clean              remove the agent's configuration, state and lock
#
# The settings are in devstack/settings.  Every helper used here is one of
# devstack's own (functions-common, inc/ini-config, inc/python).  stack.sh
# runs this with errexit set: a failing step stops the stacking.

# Functions
# ---------

# install_nova_migcompat - the project, into the environment Nova runs
# from (nova-scheduler imports the filter from it; the console scripts land
# in $NOVA_MIGCOMPAT_BIN_DIR)
function install_nova_migcompat {
    setup_develop "$NOVA_MIGCOMPAT_DIR"
}

# register_nova_migcompat_tempest_plugin - add the project and its tempest
# plugin to TEMPEST_PLUGINS, once each.  Tempest runs from a virtual
# environment of its own ($TEMPEST_DIR/.tox/tempest): devstack's
# install_tempest_plugins pip-installs TEMPEST_PLUGINS there, in one pip
# command, in the test-config phase, before the plugins' own test-config
# steps run.  The plugin requires nova-migcompat (its trait codec), which
# is not on PyPI: the project's own directory provides it.
function register_nova_migcompat_tempest_plugin {
    local plugin
    for plugin in "$NOVA_MIGCOMPAT_DIR" "$NOVA_MIGCOMPAT_TEMPEST_PLUGIN_DIR"; do
        if [[ -z "$TEMPEST_PLUGINS" || "$TEMPEST_PLUGINS" == "0" ]]; then
            TEMPEST_PLUGINS=$plugin
        elif [[ " $TEMPEST_PLUGINS " != *" $plugin "* ]]; then
            TEMPEST_PLUGINS+=" $plugin"
        fi
    done
}

# configure_nova_migcompat_filter [conf] - the filter in
# [filter_scheduler] of nova.conf ($NOVA_CONF by default), idempotent:
#
# * enabled_filters: the list there (devstack writes $NOVA_FILTERS) plus
#   the filter, appended once;
# * available_filters (multi-valued): nova's nova.scheduler.filters.all_filters,
#   which is the option's default and so must be written out once another
#   value is added, plus the filter's class path, each once.
#
# NOVA_FILTERS follows the new list, so that lib/tempest writes it to
# tempest.conf [compute-feature-enabled]scheduler_enabled_filters.
function configure_nova_migcompat_filter {
    local conf=${1:-$NOVA_CONF}
    local enabled
    enabled=$(iniget "$conf" filter_scheduler enabled_filters)
    if [[ -z "$enabled" ]]; then
        # Not in the file: nova would use its own default list.  Start from
        # the list devstack writes rather than replace it with one filter.
        enabled=$NOVA_FILTERS
    fi
    if [[ ",${enabled// /}," != *",$NOVA_MIGCOMPAT_FILTER_NAME,"* ]]; then
        enabled="${enabled:+$enabled,}$NOVA_MIGCOMPAT_FILTER_NAME"
        iniset "$conf" filter_scheduler enabled_filters "$enabled"
    fi
    NOVA_FILTERS=$enabled

    local available
    available=$(iniget_multiline "$conf" filter_scheduler available_filters)
    if [[ -z "$available" ]]; then
        iniadd "$conf" filter_scheduler available_filters \
            nova.scheduler.filters.all_filters
        available=nova.scheduler.filters.all_filters
    fi
    if [[ " $available " != *" $NOVA_MIGCOMPAT_FILTER_PATH "* ]]; then
        iniadd "$conf" filter_scheduler available_filters \
            "$NOVA_MIGCOMPAT_FILTER_PATH"
    fi
}

# _nova_migcompat_ini_options file section - the option names set in one
# section of an ini file, one per line (inc/ini-config has no such helper)
function _nova_migcompat_ini_options {
    local file=$1
    local section=$2
    awk -v section="$section" '
        /^\[.*\]/ { inside = ($0 == "[" section "]"); next }
        inside && /^[^#;[:space:]][^=]*=/ {
            name = substr($0, 1, index($0, "=") - 1)
            sub(/[ \t]+$/, "", name)
            if (!(name in seen)) { seen[name] = 1; print name }
        }' "$file"
}

# nova_migcompat_nodename - the compute node's hypervisor hostname, which
# names its root resource provider: $NOVA_MIGCOMPAT_NODENAME when set;
# with the libvirt driver the host name libvirt reports (Nova's libvirt
# driver names its node so); else nova-cpu.conf's [DEFAULT]host (the fake
# driver's node name), else the host name.
function nova_migcompat_nodename {
    local name=$NOVA_MIGCOMPAT_NODENAME
    if [[ -z "$name" && "$VIRT_DRIVER" == "libvirt" ]]; then
        name=$(sudo virsh -c qemu:///system hostname 2>/dev/null) || name=""
    fi
    if [[ -z "$name" && -f "$NOVA_CPU_CONF" ]]; then
        name=$(iniget "$NOVA_CPU_CONF" DEFAULT host)
    fi
    echo "${name:-$HOSTNAME}"
}

# configure_nova_migcompat_agent - write $NOVA_MIGCOMPAT_AGENT_CONF: the
# [placement] section of nova-cpu.conf (the credentials nova-compute uses),
# Nova's [devices]enabled_mdev_types when set (the agent reports those
# types), and the agent's [migcompat] options.  $NOVA_CPU_CONF exists from
# start_nova_compute on, so this runs in the extra phase.
function configure_nova_migcompat_agent {
    local conf=$NOVA_MIGCOMPAT_AGENT_CONF
    local user=$NOVA_MIGCOMPAT_AGENT_USER
    local options option

    local dir
    dir=$(dirname "$conf")
    if [[ ! -d "$dir" ]]; then
        sudo install -d -o "$STACK_USER" "$dir"
    fi
    rm -f "$conf"
    options=$(_nova_migcompat_ini_options "$NOVA_CPU_CONF" placement)
    if [[ -z "$options" ]]; then
        warn $LINENO "$NOVA_CPU_CONF has no [placement] options: the agent cannot reach placement"
    fi
    # Not traced: the section holds the placement password.
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    for option in $options; do
        iniset "$conf" placement "$option" "$(iniget "$NOVA_CPU_CONF" placement "$option")"
    done
    $xtrace
    local mdev_types
    mdev_types=$(iniget "$NOVA_CPU_CONF" devices enabled_mdev_types)
    if [[ -n "$mdev_types" ]]; then
        iniset "$conf" devices enabled_mdev_types "$mdev_types"
    fi
    iniset "$conf" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset "$conf" migcompat nodename "$(nova_migcompat_nodename)"
    iniset "$conf" migcompat sysfs_root "$NOVA_MIGCOMPAT_SYSFS_ROOT"
    iniset "$conf" migcompat interval "$NOVA_MIGCOMPAT_AGENT_INTERVAL"
    iniset "$conf" migcompat state_path "$NOVA_MIGCOMPAT_STATE_PATH"
    iniset "$conf" migcompat lock_path "$NOVA_MIGCOMPAT_LOCK_PATH"
    chmod 0640 "$conf"

    # The agent creates them too, but not where its user may not write.
    sudo install -d -m 0755 -o "$user" "$(dirname "$NOVA_MIGCOMPAT_LOCK_PATH")"
    sudo install -d -m 0700 -o "$user" "$NOVA_MIGCOMPAT_STATE_PATH"
}

# start_nova_migcompat_agent - the agent as the devstack@migcompat-agent
# systemd unit (journalctl -u devstack@migcompat-agent)
function start_nova_migcompat_agent {
    run_process migcompat-agent \
        "$NOVA_MIGCOMPAT_BIN_DIR/nova-migcompat-agent --config-file $NOVA_MIGCOMPAT_AGENT_CONF" \
        "" "$NOVA_MIGCOMPAT_AGENT_USER"
}

function stop_nova_migcompat_agent {
    stop_process migcompat-agent
}

# configure_tempest_for_nova_migcompat - the tempest plugin's [migcompat]
# group, and live migration, in $TEMPEST_CONFIG
function configure_tempest_for_nova_migcompat {
    iniset "$TEMPEST_CONFIG" migcompat filter_enabled "$NOVA_MIGCOMPAT_ENABLE_FILTER"
    iniset "$TEMPEST_CONFIG" compute-feature-enabled live_migration \
        "$NOVA_MIGCOMPAT_TEMPEST_LIVE_MIGRATION"
}

# cleanup_nova_migcompat - what the plugin wrote outside nova.conf (which
# devstack recreates): the agent's configuration, its state and its lock
function cleanup_nova_migcompat {
    rm -f "$NOVA_MIGCOMPAT_AGENT_CONF"
    sudo rm -rf "$NOVA_MIGCOMPAT_DATA_DIR" "$NOVA_MIGCOMPAT_STATE_PATH" \
        "$NOVA_MIGCOMPAT_LOCK_PATH"
}


# Dispatch
# --------

if [[ "$1" == "stack" ]]; then
    case "$2" in
        install)
            echo_summary "Installing nova-migcompat"
            install_nova_migcompat
            if is_service_enabled tempest && \
                    [[ "$NOVA_MIGCOMPAT_INSTALL_TEMPEST_PLUGIN" == "True" ]]; then
                register_nova_migcompat_tempest_plugin
            fi
            ;;
        post-config)
            if is_service_enabled n-sch && \
                    [[ "$NOVA_MIGCOMPAT_ENABLE_FILTER" == "True" ]]; then
                echo_summary "Enabling $NOVA_MIGCOMPAT_FILTER_NAME in $NOVA_CONF"
                configure_nova_migcompat_filter "$NOVA_CONF"
            fi
            ;;
        extra)
            if is_service_enabled n-cpu && is_service_enabled migcompat-agent; then
                echo_summary "Starting nova-migcompat-agent"
                configure_nova_migcompat_agent
                start_nova_migcompat_agent
            fi
            ;;
        test-config)
            if is_service_enabled tempest; then
                echo_summary "Configuring tempest for nova-migcompat"
                configure_tempest_for_nova_migcompat
            fi
            ;;
    esac
elif [[ "$1" == "unstack" ]]; then
    stop_nova_migcompat_agent
elif [[ "$1" == "clean" ]]; then
    cleanup_nova_migcompat
fi
