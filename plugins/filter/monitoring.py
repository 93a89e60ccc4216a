# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Filters for monitoring and cost: RDS connection limits, the unified dashboard, the monthly estimate."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.medzen.ehrbase.plugins.module_utils.monitoring import (
    cost_estimate,
    dashboard_widgets,
    rds_max_connections,
)


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError) as e:
            raise AnsibleFilterError("%s: %s" % (func.__name__, e))
    return run


class FilterModule(object):
    def filters(self):
        return {
            "rds_max_connections": _wrap(rds_max_connections),
            "dashboard_widgets": _wrap(dashboard_widgets),
            "cost_estimate": _wrap(cost_estimate),
        }
