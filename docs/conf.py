"""Sphinx configuration for the aiida-dpgen documentation."""

import logging

from aiida.manage.configuration import get_config

import aiida_dpgen

# autodoc inspects every class attribute, including aiida-core's deprecated aliases (`Model`, `objects`);
# their warnings say nothing about this package. Set in memory only, the user's config file is untouched.
get_config(create=True).set_option('warnings.showdeprecations', False)
logging.getLogger('alembic').setLevel(logging.WARNING)

project = 'aiida-dpgen'
author = 'aiida-dpgen developers'
copyright = '2026, aiida-dpgen developers'
release = aiida_dpgen.__version__
version = release

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
myst_enable_extensions = ['colon_fence', 'deflist']
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
exclude_patterns = ['_build']

autodoc_default_options = {'members': True, 'show-inheritance': True}
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
# Sphinx cannot resolve cross-references into aiida-core and dpdata without intersphinx, which would
# need network access to their documentation; the references stay plain text.
nitpicky = False

html_theme = 'furo'
html_title = f'aiida-dpgen {release}'
html_static_path = ['_static']
