#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_cost_info
short_description: Actual cost of the deployment from Cost Explorer, by region and service, with forecast and budget
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Read-only. Cost Explorer C(GetCostAndUsage) for a period, grouped by region and by service and filtered on the
    deployment's cost-allocation tag; C(GetCostForecast) for the rest of the current month; and the AWS Budgets
    budget's limit and spend. Calls are retried with jittered back-off (Cost Explorer throttles hard).
  - Cost Explorer is a global API answered in us-east-1; every Cost Explorer request is billed by AWS (USD 0.01).
  - Why a custom module - there is no upstream module for Cost Explorer.
  - The tag must be activated as a cost-allocation tag in the Billing console, or Cost Explorer reports nothing for it.
options:
  start:
    description: First day of the period (YYYY-MM-DD); default the first day of the current month (UTC).
    type: str
  end:
    description: Day after the last day of the period (YYYY-MM-DD, exclusive); default today (UTC), or tomorrow on the
      first day of a month.
    type: str
  tag_key:
    description: Cost-allocation tag that marks the deployment.
    type: str
    default: Project
  tag_value:
    description: Its value.
    type: str
    required: true
  metric:
    description: Cost Explorer metric.
    type: str
    default: UnblendedCost
    choices: [UnblendedCost, BlendedCost, AmortizedCost, NetUnblendedCost]
  budget_name:
    description: AWS Budgets budget to read beside the cost; empty skips it.
    type: str
    default: ""
  forecast:
    description: Forecast the current month's total (only when the period ends in the current month).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Month to date
  medzen.ehrbase.ehrbase_cost_info:
    tag_value: medzen
    budget_name: medzen-prod-ehrbase-monthly
  register: cost
"""

RETURN = r"""
period:
  description: C(start) and C(end) (exclusive) of the period read.
  returned: always
  type: dict
currency:
  description: Unit of every amount.
  returned: always
  type: str
total:
  description: Cost of the period.
  returned: always
  type: float
by_region:
  description: Cost per region (Route53 and other global services under C(global)).
  returned: always
  type: dict
by_service:
  description: Cost per AWS service.
  returned: always
  type: dict
rows:
  description: Cost per region and service, highest first.
  returned: always
  type: list
  elements: dict
forecast_month_total:
  description: The period's cost plus Cost Explorer's forecast for the rest of the month; null when not asked or not
    available.
  returned: always
  type: float
budget:
  description: C(name), C(limit), C(actual) and C(forecasted) spend of the budget; null when not read.
  returned: always
  type: dict
read_errors:
  description: Reads that failed, by name, with the error.
  returned: always
  type: dict
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.reads import Reader

METRIC_FORECAST = {"UnblendedCost": "UNBLENDED_COST", "BlendedCost": "BLENDED_COST", "AmortizedCost": "AMORTIZED_COST",
                   "NetUnblendedCost": "NET_UNBLENDED_COST"}


class PeriodError(Exception):
    pass


def period(start, end, today):
    first = today.replace(day=1)
    start = datetime.date.fromisoformat(start) if start else first
    end = datetime.date.fromisoformat(end) if end else (today if today > first else today + datetime.timedelta(days=1))
    if end <= start:
        raise PeriodError("end %s must be after start %s (end is exclusive)" % (end, start))
    return start, end


def next_month(day):
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def costs(r, p, start, end, tag_filter):
    ce = r.client("ce", "us-east-1")
    rows, token = {}, None
    currency = "USD"
    while True:
        kwargs = dict(TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Granularity="MONTHLY",
                      Metrics=[p["metric"]], Filter=tag_filter,
                      GroupBy=[{"Type": "DIMENSION", "Key": "REGION"}, {"Type": "DIMENSION", "Key": "SERVICE"}])
        if token:
            kwargs["NextPageToken"] = token
        answer = r.read("cost_explorer", lambda: ce.get_cost_and_usage(aws_retry=True, **kwargs))
        if answer is None:
            return None, currency
        for result in answer.get("ResultsByTime", []):
            for group in result.get("Groups", []):
                region, service = (group["Keys"] + ["?"])[:2]
                amount = group["Metrics"][p["metric"]]
                currency = amount.get("Unit", currency)
                key = (region or "global", service)
                rows[key] = rows.get(key, 0.0) + float(amount["Amount"])
        token = answer.get("NextPageToken")
        if not token:
            return rows, currency


def forecast(r, p, end, today, tag_filter):
    month_end = next_month(today)
    if not p["forecast"] or not today <= end < month_end:
        return None  # a past period, or one that already covers the month
    ce = r.client("ce", "us-east-1")
    answer = r.read("cost_forecast", lambda: ce.get_cost_forecast(
        TimePeriod={"Start": end.isoformat(), "End": month_end.isoformat()}, Metric=METRIC_FORECAST[p["metric"]],
        Granularity="MONTHLY", Filter=tag_filter, aws_retry=True))
    return float(answer["Total"]["Amount"]) if answer else None


def budget(r, name):
    if not name:
        return None
    identity = r.read("sts", lambda: r.client("sts").get_caller_identity(aws_retry=True))
    if not identity:
        return None
    answer = r.read("budgets", lambda: r.client("budgets", "us-east-1").describe_budget(
        AccountId=identity["Account"], BudgetName=name, aws_retry=True))
    if not answer:
        return None
    b = answer["Budget"]
    spend = b.get("CalculatedSpend", {})
    return {"name": name, "limit": float(b["BudgetLimit"]["Amount"]), "unit": b["BudgetLimit"].get("Unit"),
            "actual": float(spend.get("ActualSpend", {}).get("Amount", 0)) if spend else None,
            "forecasted": float(spend.get("ForecastedSpend", {}).get("Amount", 0)) if spend.get("ForecastedSpend") else None}


def report(module):
    p = module.params
    today = datetime.datetime.now(datetime.timezone.utc).date()
    start, end = period(p["start"], p["end"], today)
    r = Reader(module)
    tag_filter = {"Tags": {"Key": p["tag_key"], "Values": [p["tag_value"]], "MatchOptions": ["EQUALS"]}}
    rows, currency = costs(r, p, start, end, tag_filter)
    rows = rows or {}
    by_region, by_service = {}, {}
    for (region, service), amount in rows.items():
        by_region[region] = round(by_region.get(region, 0.0) + amount, 2)
        by_service[service] = round(by_service.get(service, 0.0) + amount, 2)
    total = round(sum(rows.values()), 2)
    rest = forecast(r, p, end, today, tag_filter)
    return dict(period={"start": start.isoformat(), "end": end.isoformat()}, currency=currency, total=total,
                by_region=by_region, by_service=by_service,
                rows=[{"region": k[0], "service": k[1], "amount": round(v, 2)}
                      for k, v in sorted(rows.items(), key=lambda kv: -kv[1])],
                forecast_month_total=round(total + rest, 2) if rest is not None else None,
                budget=budget(r, p["budget_name"]), read_errors=r.errors)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            start=dict(type="str"),
            end=dict(type="str"),
            tag_key=dict(type="str", default="Project", no_log=False),
            tag_value=dict(type="str", required=True),
            metric=dict(type="str", default="UnblendedCost", choices=list(METRIC_FORECAST)),
            budget_name=dict(type="str", default=""),
            forecast=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = report(module)
    except (PeriodError, ValueError) as e:
        module.fail_json(msg="start=%s end=%s: %s. Give dates as YYYY-MM-DD." % (module.params["start"], module.params["end"], e))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
