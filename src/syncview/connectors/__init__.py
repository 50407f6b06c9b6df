"""Connectors: plugins that fetch remote resources from a PSA/RMM product.

The core knows connectors only through :mod:`syncview.connectors.base` and
:mod:`syncview.connectors.registry`; none of them imports the store or Textual.
"""
