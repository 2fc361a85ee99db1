"""Advisors: configuration and security checks of a target, grounded in what the server says.

A check is data (:class:`~collectors.advisors.catalogue.Check`: id, engine, versions, what it reads,
severity, the exact fix, a documentation link) plus one small function of the :class:`Facts` gathered
from the target. ``headroom check --advise`` runs the catalogue; docs/advisors.md is generated from it.
"""
