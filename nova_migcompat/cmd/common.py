"""What the agent and the operator tool share: reading their configuration.

oslo.config converts an option's value only when it is read, so a bad value
(``interval = often``) would otherwise surface, as a traceback, in the
middle of a run.  Both programs read every option of the groups they use
at start and turn any error into one line that names the option, the file
and what is wrong with it.
"""

import glob
import os

from oslo_config import cfg

#: The nova.conf both programs read by default, when it exists.
NOVA_CONF = '/etc/nova/nova.conf'


class ConfigError(Exception):
    """The configuration cannot be used: one line saying why."""


def check_files(paths):
    """Each file given can be read as a configuration file.

    Checked before oslo.config reads them: it fails with a traceback on a
    directory or on bytes that are not UTF-8.

    :raises ConfigError: naming the file.
    """
    for path in paths:
        if os.path.isdir(path):
            raise ConfigError('the configuration file %s is a directory'
                              % path)
        try:
            with open(path, 'rb') as f:
                f.read().decode('utf-8')
        except FileNotFoundError:
            # oslo.config says so, in its own words (describe()).
            continue
        except OSError as e:
            raise ConfigError('cannot read the configuration file %s: %s'
                              % (path, e.strerror or e))
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


def check_config(conf, groups):
    """Read every option of DEFAULT and ``groups``.

    :raises ConfigError: naming the first bad option.
    """
    for name in conf:
        # A group's name reads as the group: harmless.
        _check_option(conf, None, name)
    for group in groups:
        for name in conf[group]:
            _check_option(conf, group, name)


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
