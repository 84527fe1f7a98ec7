# Sphinx configuration of the nova-migcompat documentation.
#
# Built by ``tox -e docs`` (sphinx-build -W: warnings are errors), offline.
# The option reference and the sample files are generated at build time
# from the option definitions (the oslo.config.opts entry points of
# setup.cfg): nothing here is copied by hand.

import os

from nova_migcompat.agent import reporter
from nova_migcompat import codec
from nova_migcompat import compat_string

_HERE = os.path.dirname(os.path.abspath(__file__))
_ETC = os.path.join(_HERE, '..', '..', 'etc', 'nova-migcompat')

project = 'nova-migcompat'
copyright = 'nova-migcompat developers'
author = 'nova-migcompat developers'

extensions = [
    'cliff.sphinxext',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'reno.sphinxext',
]

# cliff.sphinxext: the command reference, from the command classes.
autoprogram_cliff_application = 'nova-migcompat'

# oslo_config.sphinxconfiggen: the two annotated samples, written into
# _static/ (and so also published as downloads) when the build starts.
config_generator_config_file = [
    (os.path.join(_ETC, 'nova-migcompat-config-generator.conf'),
     '_static/nova-migcompat'),
    (os.path.join(_ETC, 'nova-migcompat-agent-config-generator.conf'),
     '_static/nova-migcompat-agent'),
]
# Nothing else is in _static/ (the samples are not kept in git), and
# Sphinx checks html_static_path before the samples are written.
os.makedirs(os.path.join(_HERE, '_static'), exist_ok=True)

# Limits quoted in the prose come from the code that enforces them.
rst_epilog = """
.. |max_packed_chars| replace:: %d
.. |max_token_len| replace:: %d
.. |max_trait_len| replace:: %d
.. |max_string_bytes| replace:: %d
.. |max_parts| replace:: %d
.. |max_long_chars| replace:: %d
.. |part_payload_len| replace:: %d
.. |max_src_per_provider| replace:: %d
.. |max_markers_per_provider| replace:: %d
.. |instances_per_provider| replace:: %d
""" % (codec.MAX_PACKED_CHARS, codec.MAX_TOKEN_LEN, codec.MAX_TRAIT_LEN,
       compat_string.MAX_BYTES, codec.MAX_PARTS, codec.MAX_LONG_CHARS,
       codec.MAX_TOKEN_LEN - codec.ID_LEN - 2,
       reporter.MAX_SRC_PER_PROVIDER, reporter.MAX_MARKERS_PER_PROVIDER,
       reporter.MAX_SRC_PER_PROVIDER // codec.MAX_PARTS)

master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_static_path = ['_static']
html_theme_options = {
    'description': 'Device live-migration compatibility for the OpenStack '
                   'Nova scheduler',
}
