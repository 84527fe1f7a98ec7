"""What the agent and the operator tool share: reading their configuration.

oslo.config converts an option's value only when it is read, so a bad value
(``interval = often``) would otherwise surface, as a traceback, in the
middle of a run.  Both programs read every option of the groups they use
at start and turn any error into one line that names the option, the file
and what is wrong with it.
"""

import glob
import os
import stat

from oslo_config import cfg

#: The nova.conf both programs read by default, when it exists.
NOVA_CONF = '/etc/nova/nova.conf'


class ConfigError(Exception):
    """The configuration cannot be used: one line saying why."""


#: A configuration file larger than this is not one.
MAX_CONFIG_BYTES = 1024 * 1024
_KINDS = ((stat.S_ISFIFO, 'a pipe'), (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'))


def check_files(paths):
    """Each file given can be read as a configuration file.

    Checked before oslo.config reads them, without consuming them: a
    configuration file must be a regular file (``--config-file <(...)``
    is a pipe, which a check would empty before oslo.config reads it, and
    ``/dev/zero`` never ends), of at most :data:`MAX_CONFIG_BYTES`, in
    UTF-8 (oslo.config fails with a traceback on other bytes and on a
    directory).

    :raises ConfigError: naming the file.
    """
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            # oslo.config says so, in its own words (describe()).
            continue
        except OSError as e:
            raise ConfigError('cannot read the configuration file %s: %s'
                              % (path, e.strerror or e))
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError('the configuration file %s is a directory'
                              % path)
        if not stat.S_ISREG(st.st_mode):
            kind = next((words for test, words in _KINDS
                         if test(st.st_mode)), 'not a file')
            raise ConfigError('the configuration file %s is %s, not a '
                              'regular file: give the path of a file'
                              % (path, kind))
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError('the configuration file %s is larger than '
                              '%d bytes' % (path, MAX_CONFIG_BYTES))
        try:
            with open(path, 'rb') as f:
                data = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as e:
            raise ConfigError('cannot read the configuration file %s: %s'
                              % (path, e.strerror or e))
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError('the configuration file %s is larger than '
                              '%d bytes' % (path, MAX_CONFIG_BYTES))
        try:
            data.decode('utf-8')
        except UnicodeDecodeError as e:
            raise ConfigError('the configuration file %s is not UTF-8 text '
                              '(byte %d)' % (path, e.start))


def config_files(conf):
    """The configuration files a parsed ConfigOpts read, in order."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, '*.conf')))
    return files


def file_setting(conf, group, name, files=None):
    """``(raw value, file)`` of the last file that sets an option.

    ``(None, None)`` when no configuration file sets it.
    """
    found = (None, None)
    for path in config_files(conf) if files is None else files:
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except Exception:
            continue
        values = sections.get(group, {}).get(name)
        if values:
            found = (values[-1], path)
    return found


def _reason(message):
    reason = message.split(' is not valid: ', 1)[-1]
    if reason.startswith('invalid literal for int()'):
        return 'not an integer'
    if reason.startswith('could not convert string to float'):
        return 'not a number'
    if reason.startswith('Unexpected boolean value'):
        return 'not a boolean (true or false)'
    if reason.startswith('Should be greater than or equal to '):
        return 'must be at least %s' % reason.rsplit(' ', 1)[1]
    if reason.startswith('Should be less than or equal to '):
        return 'must be at most %s' % reason.rsplit(' ', 1)[1]
    return reason


def _deprecated_names(conf, group, name):
    try:
        return conf._get_opt_info(name, group)['opt'].deprecated_opts
    except (cfg.Error, KeyError, AttributeError):
        return []


def _check_option(conf, group, name):
    try:
        if group is None:
            conf[name]
        else:
            conf[group][name]
    except (cfg.Error, ValueError) as e:
        section = group or 'DEFAULT'
        value, path = file_setting(conf, section, name)
        if path is None:
            # Set under a deprecated name?
            for old in _deprecated_names(conf, group, name):
                value, path = file_setting(conf, old.group or section,
                                           old.name)
                if path is not None:
                    section, name = old.group or section, old.name
                    break
        where = ' in %s' % path if path else ''
        shown = ' %r' % value if value is not None else ''
        raise ConfigError('invalid value%s for [%s]%s%s: %s' % (
            shown, section, name, where, _reason(str(e))))


#: Options of other projects (keystoneauth1's, oslo.log's) that declare
#: no range, and the least value that makes sense: a timeout of 0 or
#: less fails every request at run time.
POSITIVE = {('placement', 'timeout')}


def _number(conf, group, name):
    """The option's value when it is a number (not a boolean), or None."""
    value = conf[name] if group is None else conf[group][name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _check_range(conf, group, name):
    """Numbers of options without a declared range: not negative."""
    try:
        opt = conf._get_opt_info(name, group)['opt']
    except (cfg.Error, KeyError, AttributeError):
        return
    declared = getattr(opt.type, 'min', None) is not None
    value = _number(conf, group, name)
    if value is None:
        return
    positive = (group, name) in POSITIVE
    if (positive and value > 0) or (not positive and (declared or
                                                      value >= 0)):
        return
    section = group or 'DEFAULT'
    raw, path = file_setting(conf, section, name)
    raise ConfigError('invalid value %r for [%s]%s%s: %s' % (
        raw if raw is not None else value, section, name,
        ' in %s' % path if path else '',
        'must be more than 0' if positive else 'must be at least 0'))


def check_config(conf, groups):
    """Read every option of DEFAULT and ``groups``, and check its range.

    oslo.config checks the ranges an option declares; the options of
    other projects that declare none (keystoneauth1's ``[placement]``
    timeouts and retries) must not be negative, and a timeout must be
    more than 0.

    :raises ConfigError: naming the first bad option.
    """
    for name in conf:
        # A group's name reads as the group: harmless.
        _check_option(conf, None, name)
        _check_range(conf, None, name)
    for group in groups:
        for name in conf[group]:
            _check_option(conf, group, name)
            _check_range(conf, group, name)


def describe(error):
    """One line for a configuration error of oslo.config (or ours)."""
    if isinstance(error, cfg.ConfigFilesNotFoundError):
        return 'configuration file not found or unreadable: %s' % ', '.join(
            error.config_files)
    if isinstance(error, cfg.ConfigFilesPermissionDeniedError):
        return 'cannot read the configuration file(s) %s: permission ' \
            'denied' % ', '.join(error.config_files)
    if isinstance(error, cfg.ConfigFileParseError):
        return 'malformed configuration file %s: %s' % (
            error.config_file, error.msg)
    if isinstance(error, cfg.ConfigDirNotFoundError):
        return 'configuration directory not found: %s' % error.config_dir
    if isinstance(error, ConfigError):
        return str(error)
    return '%s: %s' % (type(error).__name__, error)
