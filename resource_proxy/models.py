"""Metering: the proxy writes one ``routed_calls`` row per call it answered
(``resource_proxy.metering``). The table is the registry's (``registry.models.RoutedCall``):
billing and reports read it, and the registry never imports the proxy."""

from registry.models import RoutedCall

__all__ = ["RoutedCall"]
