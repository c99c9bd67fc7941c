"""Prefect tasks: each performs one Azure or DNS side effect with "ensure" semantics.

A task reads Azure first, compares with what the business unit asks for, and writes only the
difference, so a second run of the same wave makes no writes. Tasks never build SDK clients
themselves: they ask `plmigrate.azure.clients(target)`.
"""
