# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Plan rules on the role variables AWS or EHRbase would reject only when a play reaches them.

The app, DNS and monitoring plays run after every region was built: a health-check threshold Route53 refuses, an
alarm period CloudWatch refuses or an EHRbase that starts without authentication would surface there, hours of AWS
time into a run. plan.py calls these from validate_region, so preflight refuses them before any change. Each
message names its source (the AWS API reference or EHRbase's documentation).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


def plan_error(variable, value, rule, fix, region=None, source=None):
    """The one shape of a preflight message: variable, region, value, rule, its source, fix (plan.py uses it too)."""
    where = " (region %s)" % region if region else ""
    cited = " (source: %s)" % source if source else ""
    return "%s%s = %r: %s%s. Fix: %s" % (variable, where, value, rule, cited, fix)


_err = plan_error


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# RDS CreateDBInstance, MasterUsername (PostgreSQL): 1 to 16 letters, numbers or underscores, starting with a letter.
RDS_MASTER_USER_MAX = 16
SRC_RDS_USER = "RDS API reference, CreateDBInstance, MasterUsername"


def check_master_user_length(region, plan):
    user = plan.get("rds_master_username")
    if isinstance(user, str) and len(user) > RDS_MASTER_USER_MAX:
        return [_err("rds_master_username", user, "is %d characters; RDS allows 1 to %d letters, numbers or "
                     "underscores (CreateDBInstance would fail after the network was built)"
                     % (len(user), RDS_MASTER_USER_MAX), "use e.g. ehrbase_master", region, SRC_RDS_USER)]
    return []


# What EHRbase's container takes from the collection and must not be replaced through ecs_extra_environment.
EHRBASE_AUTH_TYPES = ("BASIC", "OAUTH")
SRC_EHRBASE_SECURITY = "EHRbase documentation, Explore > Security (security.authType NONE, BASIC or OAUTH)"
CREDENTIAL_WORDS = ("PASSWORD", "PASS", "SECRET", "TOKEN", "CREDENTIAL")
COLLECTION_KEYS = ("DB_URL", "DB_USER", "DB_USER_ADMIN", "SERVER_NODENAME", "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE",
                   "MANAGEMENT_ENDPOINTS_WEB_BASEPATH", "MANAGEMENT_ENDPOINTS_WEB_ACCESS",
                   "MANAGEMENT_ENDPOINT_HEALTH_ACCESS")


def check_extra_environment(region, plan):
    extra = plan.get("ecs_extra_environment")
    if extra in (None, {}):
        return []
    var = "ecs_extra_environment"
    if not isinstance(extra, dict):
        return [_err(var, extra, "must be a mapping of environment names to strings", "e.g. {LOGGING_LEVEL_ROOT: INFO}",
                     region, "ECS RegisterTaskDefinition, containerDefinitions.environment")]
    errors = []
    for key, value in sorted(extra.items(), key=lambda kv: str(kv[0])):
        name = "%s.%s" % (var, key)
        upper = str(key).upper()
        if upper == "SECURITY_AUTHTYPE" and str(value).upper() not in EHRBASE_AUTH_TYPES:
            errors.append(_err(name, value, "switches EHRbase's authentication off: every patient record would be "
                               "readable and writable by anyone who reaches the load balancer",
                               "remove it (the collection runs BASIC) or use OAUTH with its issuer settings",
                               region, SRC_EHRBASE_SECURITY))
        elif any(word in upper.split("_") for word in CREDENTIAL_WORDS):
            errors.append(_err(name, "<not shown>", "looks like a credential; a task environment is readable by "
                               "anyone who may describe the task definition",
                               "store it in Secrets Manager; the collection passes credentials as secrets valueFrom",
                               region, "ECS developer guide, Pass sensitive data to a container"))
        elif upper in COLLECTION_KEYS:
            errors.append(_err(name, value, "replaces a setting the collection derives (the database, the node "
                               "name, the public health endpoint)", "remove it", region, SRC_EHRBASE_SECURITY))
    return errors


SRC_ECR_IMAGE = "ECS RegisterTaskDefinition, containerDefinitions.image (repository-url/image:tag)"


def check_image(region, plan):
    image = plan.get("ecs_ehrbase_image")
    if image is None:
        return []
    last = str(image).rsplit("/", 1)[-1]
    if not isinstance(image, str) or not image or ":" in last or "@" in last:
        return [_err("ecs_ehrbase_image", image, "is the repository only; the tag comes from ecs_ehrbase_version "
                     "(the image would become <image>:<tag>:<version>, which no registry serves)",
                     "write the repository (e.g. ehrbase/ehrbase) and put the tag in ecs_ehrbase_version",
                     region, SRC_ECR_IMAGE)]
    return []


def check_poll_intervals(region, plan):
    errors = []
    for var, source in (("ecs_release_poll_delay", "the release gate polls ECS DescribeServices"),
                        ("rds_wait_delay", "the rds role polls RDS DescribeDBInstances")):
        value = plan.get(var)
        if value is not None and (not _int(value) or value < 1):
            errors.append(_err(var, value, "a poll interval must be a whole number of seconds, at least 1 (0 "
                               "would call AWS in a tight loop and be throttled)", "use the default (%s)"
                               % ("15" if var.startswith("ecs") else "30"), region, source))
    return errors


def check_zone_variables(region, plan):
    """The role variables that name the hosted zone (not only the shared ehrbase_zone_name)."""
    domain = plan.get("route53_domain") or plan.get("ehrbase_domain")
    errors = []
    for var in ("route53_zone_name", "ecs_certificate_validation_zone"):
        zone = plan.get(var)
        if zone in (None, "") or not isinstance(domain, str) or not domain:
            continue  # unset: the shared one is checked; empty: the role explains what it cannot do without one
        if not isinstance(zone, str) or zone.endswith(".") or (domain != zone and not domain.endswith("." + zone)):
            errors.append(_err(var, zone, "is not a parent of the domain %s: its records (and the certificate's "
                               "validation records) could not go into it" % domain,
                               "name the hosted zone that holds %s (e.g. %s), without a trailing dot"
                               % (domain, domain.split(".", 1)[-1]), region,
                               "Route 53 developer guide, Working with hosted zones"))
    return errors


# EHRbase's paths that answer without a login with the environment the ecs role sets (health exposure, PUBLIC).
PUBLIC_HEALTH_PATHS = ("/ehrbase/management/health", "/ehrbase/management/health/liveness",
                       "/ehrbase/management/health/readiness")
SRC_ROUTE53_HC = "Route 53 API reference, CreateHealthCheck, HealthCheckConfig"


def check_dns(region, plan):
    errors = []
    path = plan.get("route53_health_check_path")
    if path is not None and path not in PUBLIC_HEALTH_PATHS:
        errors.append(_err("route53_health_check_path", path, "needs a login or is not served: EHRbase answers 401 "
                           "on its REST paths without BASIC credentials, and a health check that never passes fails "
                           "every region over", "use %s" % PUBLIC_HEALTH_PATHS[0], region,
                           "EHRbase documentation, Explore > Security; " + SRC_ROUTE53_HC))
    interval = plan.get("route53_health_check_interval")
    if interval is not None and interval not in (10, 30):
        errors.append(_err("route53_health_check_interval", interval, "RequestInterval must be 10 or 30 seconds",
                           "use 30 (standard) or 10 (fast, billed extra)", region, SRC_ROUTE53_HC))
    threshold = plan.get("route53_health_check_failure_threshold")
    if threshold is not None and (not _int(threshold) or not 1 <= threshold <= 10):
        errors.append(_err("route53_health_check_failure_threshold", threshold, "FailureThreshold must be 1-10",
                           "use 3", region, SRC_ROUTE53_HC))
    return errors


SRC_ALARM = "CloudWatch API reference, PutMetricAlarm"
SRC_EMAIL = "SNS API reference, Subscribe (email endpoint)"
SRC_BUDGET = "AWS Budgets API reference, CreateBudget and CreateNotification"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def _check_alarm_timing(region, plan):
    errors = []
    period, evaluations = plan.get("monitoring_period"), plan.get("monitoring_evaluation_periods")
    datapoints = plan.get("monitoring_datapoints_to_alarm")
    if period is not None and (not _int(period) or period < 60 or period % 60):
        errors.append(_err("monitoring_period", period, "the ECS, RDS and load balancer metrics are standard "
                           "resolution: Period must be a multiple of 60 seconds", "use 60", region, SRC_ALARM))
    if evaluations is not None and (not _int(evaluations) or evaluations < 1):
        errors.append(_err("monitoring_evaluation_periods", evaluations, "EvaluationPeriods must be at least 1",
                           "use 5", region, SRC_ALARM))
    elif _int(evaluations) and _int(period) and period * evaluations > 86400:
        errors.append(_err("monitoring_evaluation_periods", evaluations, "EvaluationPeriods x Period may be at most "
                           "one day (86400 s); here %d s" % (period * evaluations), "use fewer periods", region,
                           SRC_ALARM))
    if datapoints is not None:
        most = evaluations if _int(evaluations) else 5
        if not _int(datapoints) or not 1 <= datapoints <= most:
            errors.append(_err("monitoring_datapoints_to_alarm", datapoints, "DatapointsToAlarm must be 1 to "
                               "EvaluationPeriods (%s)" % most, "use 3 of 5", region, SRC_ALARM))
    return errors


def _check_emails(region, plan):
    errors = []
    for var in ("monitoring_alarm_emails", "monitoring_budget_emails"):
        emails = plan.get(var)
        if emails is None:
            continue
        if not isinstance(emails, list):
            errors.append(_err(var, emails, "must be a list of e-mail addresses", "e.g. [ops@example.org]", region,
                               SRC_EMAIL))
            continue
        errors.extend(_err("%s[%d]" % (var, idx), email, "is not an e-mail address",
                           "write it as name@domain, e.g. ops@medzenhealth.app", region, SRC_EMAIL)
                      for idx, email in enumerate(emails) if not isinstance(email, str) or not _EMAIL.match(email))
    return errors


def _positive(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


def _check_budget(region, plan):
    errors = []
    amount = plan.get("monitoring_budget_amount")
    if amount is not None and not _positive(amount):
        errors.append(_err("monitoring_budget_amount", amount, "the budget limit must be a positive amount",
                           "use the monthly amount in the budget's currency, e.g. 1500", region, SRC_BUDGET))
    for idx, note in enumerate(plan.get("monitoring_budget_notifications") or []):
        note_ok = isinstance(note, dict) and note.get("type") in ("ACTUAL", "FORECASTED") \
            and _positive(note.get("threshold"))
        if not note_ok:
            errors.append(_err("monitoring_budget_notifications[%d]" % idx, note, "needs type ACTUAL or FORECASTED "
                               "and a positive threshold (percent of the budget)", "e.g. {type: ACTUAL, threshold: 80}",
                               region, SRC_BUDGET))
    return errors


def check_monitoring(region, plan):
    return _check_alarm_timing(region, plan) + _check_emails(region, plan) + _check_budget(region, plan)


# Tag keys: 1-128 characters, not starting with aws: (reserved); values at most 256 characters.
_TAG_KEY = re.compile(r"^[\w\s.:/=+\-@]{1,128}$", re.UNICODE)
SRC_TAGS = "AWS general reference, Tagging AWS resources (tag naming limits)"


def check_tags(region, plan):
    tags = plan.get("ehrbase_tags")
    if tags is None:
        return []
    if not isinstance(tags, dict):
        return [_err("ehrbase_tags", tags, "must be a mapping of tag keys to values", "e.g. {CostCenter: ehr}", region,
                     SRC_TAGS)]
    errors = []
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
            errors.append(_err("ehrbase_tags", key, "is not a tag key AWS accepts (1-128 letters, digits, spaces or "
                               "_ . : / = + - @, not starting with aws:)", "rename the key", region, SRC_TAGS))
        elif len(str(value)) > 256:
            errors.append(_err("ehrbase_tags.%s" % key, value, "tag values may be at most 256 characters",
                               "shorten it", region, SRC_TAGS))
    return errors


CHECKS = (check_master_user_length, check_extra_environment, check_image, check_poll_intervals, check_zone_variables,
          check_dns, check_monitoring, check_tags)


def validate_role_variables(region, plan):
    errors = []
    for check in CHECKS:
        errors.extend(check(region, plan))
    return errors
