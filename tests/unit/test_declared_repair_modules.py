"""secret_kms_key and sns_subscription_filters through ansible against the test emulator: what the upstream modules
leave alone (a secret moved to another key, a filter policy on an alarm subscription) is reported in check mode,
put back by a run, and then left as it is; a secret's value is never changed nor returned."""

import json

from helpers import aws, run_module

REGION = "eu-central-1"
SECRET = "repairtest-euc1/ehrbase/db-master"
VALUE = json.dumps({"username": "ehrbase_master", "password": "kept-as-it-is-7c2e"})


def secret_key(check_mode=False, key=None):
    return run_module("medzen.ehrbase.secret_kms_key", {"region": REGION, "names": [SECRET, "repairtest-euc1/none"],
                                                        "kms_key_id": key}, check_mode=check_mode, diff=True)


def test_a_secret_moved_to_another_key_goes_back_with_its_value(emulator):
    kms, secrets = aws("kms", REGION), aws("secretsmanager", REGION)
    key = kms.create_key(Description="region key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/repairtest-euc1-ehrbase", TargetKeyId=key["KeyId"])
    secrets.create_secret(Name=SECRET, SecretString=VALUE, KmsKeyId=key["Arn"])
    # The same key by its alias: nothing to do (and the secret that does not exist is left alone).
    rc, res, out = secret_key(key="alias/repairtest-euc1-ehrbase")
    assert rc == 0 and res["changed"] is False and [s["name"] for s in res["secrets"]] == [SECRET], out

    secrets.update_secret(SecretId=SECRET, KmsKeyId="alias/aws/secretsmanager")
    rc, res, out = secret_key(check_mode=True, key=key["Arn"])
    assert res["changed"] is True and res["changed_secrets"] == [SECRET], out
    assert secrets.describe_secret(SecretId=SECRET).get("KmsKeyId") != key["Arn"]  # check mode changed nothing
    rc, res, out = secret_key(key=key["Arn"])
    assert rc == 0 and res["changed"] is True and "kept-as-it-is" not in out, out
    assert secrets.describe_secret(SecretId=SECRET)["KmsKeyId"] == key["Arn"]
    assert secrets.get_secret_value(SecretId=SECRET)["SecretString"] == VALUE
    assert secret_key(key=key["Arn"])[1]["changed"] is False


def test_a_filter_policy_on_an_alarm_subscription_is_removed(emulator):
    sns = aws("sns", REGION)
    topic = sns.create_topic(Name="repairtest-euc1-alarms")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@repair.example",
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    args = {"region": REGION, "topic_arn": topic}
    rc, res, out = run_module("medzen.ehrbase.sns_subscription_filters", args)
    assert rc == 0 and res["changed"] is False, out

    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"severity": ["never"]}')
    rc, res, out = run_module("medzen.ehrbase.sns_subscription_filters", args, check_mode=True, diff=True)
    assert res["changed"] is True and res["changed_endpoints"] == ["ops@repair.example"], out
    assert res["subscriptions"][0]["before"] == {"severity": ["never"]}
    rc, res, out = run_module("medzen.ehrbase.sns_subscription_filters", args)
    assert rc == 0 and res["changed"] is True, out
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"].get("FilterPolicy") or "{}") == {}
    assert run_module("medzen.ehrbase.sns_subscription_filters", args)[1]["changed"] is False
