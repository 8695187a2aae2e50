"""SM301: every constraint of contract section 5 has a failing and a passing
request. Each case mutates one realistic good request; a failing case must
give exactly one SM301 violation, at the expected pointer, with a message
saying what was found and what is allowed."""
from __future__ import annotations

import copy
import json
import os

import pytest

from conftest import FIXTURES
from smlint.job.schema import api_model, load_schema, violations

with open(os.path.join(FIXTURES, "jobs", "processing-job.json"), encoding="utf-8") as _handle:
    GOOD = json.load(_handle)


def _walk(data, path):
    parts = path.strip("/").split("/")
    for part in parts[:-1]:
        data = data[int(part)] if isinstance(data, list) else data[part]
    last = parts[-1]
    return data, (int(last) if isinstance(data, list) else last)


def put(path, value):
    def mutate(data):
        parent, key = _walk(data, path)
        parent[key] = value
    return mutate


def drop(path):
    def mutate(data):
        parent, key = _walk(data, path)
        del parent[key]
    return mutate


def both(*mutations):
    def mutate(data):
        for m in mutations:
            m(data)
    return mutate


def s3_input(index):
    return {"InputName": f"in{index}", "S3Input": {"S3Uri": f"s3://b/{index}/", "LocalPath": f"/opt/ml/processing/in{index}",
                                                   "S3DataType": "S3Prefix"}}


def s3_output(index):
    return {"OutputName": f"out{index}", "S3Output": {"S3Uri": f"s3://b/o{index}/", "LocalPath": f"/opt/ml/processing/o{index}",
                                                      "S3UploadMode": "EndOfJob"}}


REDSHIFT = {"ClusterId": "warehouse", "Database": "dev", "DbUser": "etl", "QueryString": "SELECT 1",
            "ClusterRoleArn": "arn:aws:iam::123456789012:role/Redshift", "OutputS3Uri": "s3://b/rs/",
            "OutputFormat": "CSV"}
ATHENA = GOOD["ProcessingInputs"][1]["DatasetDefinition"]["AthenaDatasetDefinition"]
IN0 = "/ProcessingInputs/0/S3Input"
DD = "/ProcessingInputs/1/DatasetDefinition"
OUT0 = "/ProcessingOutputConfig/Outputs/0"
CLUSTER = "/ProcessingResources/ClusterConfig"
VPC = "/NetworkConfig/VpcConfig"
LONG_LOCAL = "/opt/ml/processing/" + "d" * 238  # 257 characters, below the prefix

# (case id, mutation, pointer of the one violation, words the message must hold)
FAILING = [
    ("required-name", drop("/ProcessingJobName"), "", "missing the required field ProcessingJobName"),
    ("required-resources", drop("/ProcessingResources"), "", "missing the required field ProcessingResources"),
    ("required-app", drop("/AppSpecification"), "", "missing the required field AppSpecification"),
    ("required-role", drop("/RoleArn"), "", "missing the required field RoleArn"),
    ("name-too-long", put("/ProcessingJobName", "a" * 64), "/ProcessingJobName", "is 64 characters; at most 63"),
    ("name-empty", put("/ProcessingJobName", ""), "/ProcessingJobName", "is empty"),
    ("name-underscore", put("/ProcessingJobName", "my_job"), "/ProcessingJobName", "letters, digits and hyphens"),
    ("name-trailing-hyphen", put("/ProcessingJobName", "job-"), "/ProcessingJobName", "is not allowed"),
    ("name-unanchored-newline", put("/ProcessingJobName", "job\n"), "/ProcessingJobName", "is not allowed"),
    ("role-too-short", put("/RoleArn", "arn:aws:iam::1:r"), "/RoleArn", "at least 20"),
    ("role-too-long", put("/RoleArn", "arn:aws:iam::123456789012:role/" + "r" * 2018), "/RoleArn", "is 2049 characters; at most 2048"),
    ("role-pattern", put("/RoleArn", "arn:aws:iam::12345:role/Processing"), "/RoleArn", "IAM role ARN"),
    ("image-required", drop("/AppSpecification/ImageUri"), "/AppSpecification", "missing the required field ImageUri"),
    ("image-too-long", put("/AppSpecification/ImageUri", "i" * 256), "/AppSpecification/ImageUri", "at most 255"),
    ("entrypoint-empty-list", put("/AppSpecification/ContainerEntrypoint", []), "/AppSpecification/ContainerEntrypoint", "empty list"),
    ("entrypoint-101", put("/AppSpecification/ContainerEntrypoint", ["x"] * 101), "/AppSpecification/ContainerEntrypoint", "101 items; at most 100"),
    ("entrypoint-empty-item", put("/AppSpecification/ContainerEntrypoint", ["python3", ""]), "/AppSpecification/ContainerEntrypoint/1", "is empty"),
    ("entrypoint-long-item", put("/AppSpecification/ContainerEntrypoint", ["e" * 257]), "/AppSpecification/ContainerEntrypoint/0", "257 characters; at most 256"),
    ("arguments-empty-list", put("/AppSpecification/ContainerArguments", []), "/AppSpecification/ContainerArguments", "the API rejects []"),
    ("arguments-101", put("/AppSpecification/ContainerArguments", ["a"] * 101), "/AppSpecification/ContainerArguments", "at most 100"),
    ("arguments-empty-item", put("/AppSpecification/ContainerArguments", [""]), "/AppSpecification/ContainerArguments/0", "is empty"),
    ("arguments-long-item", put("/AppSpecification/ContainerArguments", ["a" * 257]), "/AppSpecification/ContainerArguments/0", "at most 256"),
    ("arguments-not-strings", put("/AppSpecification/ContainerArguments", [5]), "/AppSpecification/ContainerArguments/0", "expected a string"),
    ("env-101", put("/Environment", {f"K{i}": "v" for i in range(101)}), "/Environment", "101 entries; at most 100"),
    ("env-key-long", put("/Environment", {"K" * 257: "v"}), "/Environment/" + "K" * 257, "key is 257 characters"),
    ("env-key-digit", put("/Environment", {"1ST": "v"}), "/Environment/1ST", "not starting with a digit"),
    ("env-key-hyphen", put("/Environment", {"LOG-LEVEL": "v"}), "/Environment/LOG-LEVEL", "is not allowed"),
    ("env-value-long", put("/Environment", {"K": "v" * 257}), "/Environment/K", "at most 256"),
    ("env-value-number", put("/Environment", {"K": 28}), "/Environment/K", "is an integer (28); expected a string"),
    ("inputs-11", put("/ProcessingInputs", [s3_input(i) for i in range(11)]), "/ProcessingInputs", "11 items; at most 10"),
    ("input-name-required", drop("/ProcessingInputs/0/InputName"), "/ProcessingInputs/0", "missing the required field InputName"),
    ("input-neither", drop("/ProcessingInputs/0/S3Input"), "/ProcessingInputs/0", "neither S3Input nor DatasetDefinition"),
    ("input-both", put("/ProcessingInputs/0/DatasetDefinition", GOOD["ProcessingInputs"][1]["DatasetDefinition"]),
     "/ProcessingInputs/0", "both S3Input and DatasetDefinition"),
    ("input-appmanaged-type", put("/ProcessingInputs/0/AppManaged", "yes"), "/ProcessingInputs/0/AppManaged", "expected true or false"),
    ("s3uri-too-long", put(f"{IN0}/S3Uri", "s3://b/" + "k" * 1018), f"{IN0}/S3Uri", "1025 characters; at most 1024"),
    ("s3uri-scheme", put(f"{IN0}/S3Uri", "ftp://bucket/key"), f"{IN0}/S3Uri", "s3:// or https://"),
    ("s3-data-type", put(f"{IN0}/S3DataType", "Prefix"), f"{IN0}/S3DataType", "allowed: ManifestFile, S3Prefix"),
    ("s3-data-type-required", drop(f"{IN0}/S3DataType"), IN0, "missing the required field S3DataType"),
    ("s3-input-mode", put(f"{IN0}/S3InputMode", "file"), f"{IN0}/S3InputMode", "allowed: File, Pipe"),
    ("s3-distribution", put(f"{IN0}/S3DataDistributionType", "Sharded"), f"{IN0}/S3DataDistributionType", "FullyReplicated, ShardedByS3Key"),
    ("s3-compression", put(f"{IN0}/S3CompressionType", "GZIP"), f"{IN0}/S3CompressionType", "allowed: None, Gzip"),
    ("gzip-with-file", put(f"{IN0}/S3CompressionType", "Gzip"), f"{IN0}/S3InputMode", "Gzip needs S3InputMode Pipe; found \"File\""),
    ("gzip-default-mode", both(put(f"{IN0}/S3CompressionType", "Gzip"), drop(f"{IN0}/S3InputMode")), IN0, "default is File"),
    ("input-localpath-long", put(f"{IN0}/LocalPath", LONG_LOCAL), f"{IN0}/LocalPath", "257 characters; at most 256"),
    ("input-localpath-required", drop(f"{IN0}/LocalPath"), IN0, "required unless the input is AppManaged"),
    ("dataset-both", put(f"{DD}/RedshiftDatasetDefinition", REDSHIFT), DD, "both AthenaDatasetDefinition and RedshiftDatasetDefinition"),
    ("dataset-neither", drop(f"{DD}/AthenaDatasetDefinition"), DD, "neither AthenaDatasetDefinition nor RedshiftDatasetDefinition"),
    ("dataset-localpath-required", drop(f"{DD}/LocalPath"), DD, "DatasetDefinition has no LocalPath"),
    ("dataset-localpath-long", put(f"{DD}/LocalPath", LONG_LOCAL), f"{DD}/LocalPath", "at most 256"),
    ("dataset-distribution", put(f"{DD}/DataDistributionType", "All"), f"{DD}/DataDistributionType", "FullyReplicated, ShardedByS3Key"),
    ("dataset-input-mode", put(f"{DD}/InputMode", "Stream"), f"{DD}/InputMode", "allowed: File, Pipe"),
    ("athena-required", drop(f"{DD}/AthenaDatasetDefinition/QueryString"), f"{DD}/AthenaDatasetDefinition", "QueryString"),
    ("outputs-11", put("/ProcessingOutputConfig/Outputs", [s3_output(i) for i in range(11)]), "/ProcessingOutputConfig/Outputs", "11 items; at most 10"),
    ("outputs-required", drop("/ProcessingOutputConfig/Outputs"), "/ProcessingOutputConfig", "missing the required field Outputs"),
    ("output-name-required", drop(f"{OUT0}/OutputName"), OUT0, "missing the required field OutputName"),
    ("output-neither", drop(f"{OUT0}/S3Output"), OUT0, "neither S3Output nor FeatureStoreOutput"),
    ("output-both", put(f"{OUT0}/FeatureStoreOutput", {"FeatureGroupName": "churn-features"}), OUT0, "both S3Output and FeatureStoreOutput"),
    ("output-kms-long", put("/ProcessingOutputConfig/KmsKeyId", "k" * 2049), "/ProcessingOutputConfig/KmsKeyId", "at most 2048"),
    ("output-upload-mode", put(f"{OUT0}/S3Output/S3UploadMode", "AtEnd"), f"{OUT0}/S3Output/S3UploadMode", "allowed: Continuous, EndOfJob"),
    ("output-s3uri", put(f"{OUT0}/S3Output/S3Uri", "acme-ml-data/features"), f"{OUT0}/S3Output/S3Uri", "s3:// or https://"),
    ("output-localpath-long", put(f"{OUT0}/S3Output/LocalPath", LONG_LOCAL), f"{OUT0}/S3Output/LocalPath", "at most 256"),
    ("instance-count-0", put(f"{CLUSTER}/InstanceCount", 0), f"{CLUSTER}/InstanceCount", "is 0; at least 1"),
    ("instance-count-101", put(f"{CLUSTER}/InstanceCount", 101), f"{CLUSTER}/InstanceCount", "is 101; at most 100"),
    ("instance-count-string", put(f"{CLUSTER}/InstanceCount", "2"), f"{CLUSTER}/InstanceCount", "expected an integer"),
    ("instance-type", put(f"{CLUSTER}/InstanceType", "ml.m5.2xlarg"), f"{CLUSTER}/InstanceType", "did you mean 'ml.m5.2xlarge'"),
    ("instance-type-graviton", put(f"{CLUSTER}/InstanceType", "ml.m6g.large"), f"{CLUSTER}/InstanceType", "not a processing instance type"),
    ("volume-0", put(f"{CLUSTER}/VolumeSizeInGB", 0), f"{CLUSTER}/VolumeSizeInGB", "at least 1"),
    ("volume-16385", put(f"{CLUSTER}/VolumeSizeInGB", 16385), f"{CLUSTER}/VolumeSizeInGB", "is 16385; at most 16384"),
    ("cluster-required", drop(f"{CLUSTER}/VolumeSizeInGB"), CLUSTER, "missing the required field VolumeSizeInGB"),
    ("runtime-0", put("/StoppingCondition/MaxRuntimeInSeconds", 0), "/StoppingCondition/MaxRuntimeInSeconds", "at least 1"),
    ("runtime-over", put("/StoppingCondition/MaxRuntimeInSeconds", 777601), "/StoppingCondition/MaxRuntimeInSeconds", "is 777601; at most 777600"),
    ("sg-6", put(f"{VPC}/SecurityGroupIds", [f"sg-{i}" for i in range(6)]), f"{VPC}/SecurityGroupIds", "6 items; at most 5"),
    ("sg-0", put(f"{VPC}/SecurityGroupIds", []), f"{VPC}/SecurityGroupIds", "empty list"),
    ("sg-long", put(f"{VPC}/SecurityGroupIds", ["sg-" + "0" * 30]), f"{VPC}/SecurityGroupIds/0", "33 characters; at most 32"),
    ("sg-pattern", put(f"{VPC}/SecurityGroupIds", ["sg_0123"]), f"{VPC}/SecurityGroupIds/0", "letters, digits and '-'"),
    ("subnets-17", put(f"{VPC}/Subnets", [f"subnet-{i}" for i in range(17)]), f"{VPC}/Subnets", "17 items; at most 16"),
    ("subnets-0", put(f"{VPC}/Subnets", []), f"{VPC}/Subnets", "empty list"),
    ("subnet-long", put(f"{VPC}/Subnets", ["subnet-" + "0" * 26]), f"{VPC}/Subnets/0", "at most 32"),
    ("subnet-pattern", put(f"{VPC}/Subnets", ["subnet 1"]), f"{VPC}/Subnets/0", "is not allowed"),
    ("tags-51", put("/Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(51)]), "/Tags", "51 items; at most 50"),
    ("tag-key-empty", put("/Tags", [{"Key": "", "Value": "v"}]), "/Tags/0/Key", "is empty"),
    ("tag-key-long", put("/Tags", [{"Key": "k" * 129, "Value": "v"}]), "/Tags/0/Key", "129 characters; at most 128"),
    ("tag-key-pattern", put("/Tags", [{"Key": "team#1", "Value": "v"}]), "/Tags/0/Key", "letters, digits, spaces"),
    ("tag-value-long", put("/Tags", [{"Key": "k", "Value": "v" * 257}]), "/Tags/0/Value", "at most 256"),
    ("tag-value-pattern", put("/Tags", [{"Key": "k", "Value": "a|b"}]), "/Tags/0/Value", "is not allowed"),
    ("tag-value-required", put("/Tags", [{"Key": "k"}]), "/Tags/0", "missing the required field Value"),
    ("unknown-field", put("/ProcessingJobname", "x"), "/ProcessingJobname", "did you mean 'ProcessingJobName'"),
    ("unknown-nested-field", put(f"{CLUSTER}/InstanceTpe", "ml.m5.large"), f"{CLUSTER}/InstanceTpe", "unknown field 'InstanceTpe'"),
    ("request-type", put("/AppSpecification", "image:1"), "/AppSpecification", "is a string"),
]

PASSING = [
    ("good", lambda data: None),
    ("name-63", put("/ProcessingJobName", "a" * 63)),
    ("name-hyphens", put("/ProcessingJobName", "a--b-1")),
    ("role-partition", put("/RoleArn", "arn:aws-cn:iam::123456789012:role/path/to/Role+x=1,y.z@w")),
    ("image-255", put("/AppSpecification/ImageUri", "i" * 255)),
    ("entrypoint-100", put("/AppSpecification/ContainerEntrypoint", ["x"] * 100)),
    ("entrypoint-256", put("/AppSpecification/ContainerEntrypoint", ["e" * 256])),
    ("arguments-100", put("/AppSpecification/ContainerArguments", ["a"] * 100)),
    ("arguments-256", put("/AppSpecification/ContainerArguments", ["a" * 256])),
    ("env-100", put("/Environment", {f"K{i}": "v" for i in range(100)})),
    ("env-key", put("/Environment", {"_K_1": "v" * 256, "K" * 256: ""})),
    ("inputs-10", put("/ProcessingInputs", [s3_input(i) for i in range(10)])),
    ("inputs-0", put("/ProcessingInputs", [])),
    ("s3uri-https", put(f"{IN0}/S3Uri", "https://acme.s3.eu-west-1.amazonaws.com/events/")),
    ("s3uri-1024", put(f"{IN0}/S3Uri", "s3://b/" + "k" * 1017)),
    ("manifest", put(f"{IN0}/S3DataType", "ManifestFile")),
    ("gzip-with-pipe", both(put(f"{IN0}/S3CompressionType", "Gzip"), put(f"{IN0}/S3InputMode", "Pipe"))),
    ("input-appmanaged-no-localpath", both(drop(f"{IN0}/LocalPath"), put("/ProcessingInputs/0/AppManaged", True))),
    ("dataset-redshift", both(drop(f"{DD}/AthenaDatasetDefinition"), put(f"{DD}/RedshiftDatasetDefinition", REDSHIFT))),
    ("dataset-appmanaged-no-localpath", both(drop(f"{DD}/LocalPath"), put("/ProcessingInputs/1/AppManaged", True))),
    ("outputs-10", put("/ProcessingOutputConfig/Outputs", [s3_output(i) for i in range(10)])),
    ("output-feature-store", both(drop(f"{OUT0}/S3Output"), put(f"{OUT0}/FeatureStoreOutput", {"FeatureGroupName": "churn-features"}))),
    ("output-continuous", put(f"{OUT0}/S3Output/S3UploadMode", "Continuous")),
    ("output-kms", put("/ProcessingOutputConfig/KmsKeyId", "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234")),
    ("instance-count-100", put(f"{CLUSTER}/InstanceCount", 100)),
    ("instance-type-gpu", put(f"{CLUSTER}/InstanceType", "ml.g6e.xlarge")),
    ("volume-16384", put(f"{CLUSTER}/VolumeSizeInGB", 16384)),
    ("volume-1", put(f"{CLUSTER}/VolumeSizeInGB", 1)),
    ("runtime-max", put("/StoppingCondition/MaxRuntimeInSeconds", 777600)),
    ("runtime-1", put("/StoppingCondition/MaxRuntimeInSeconds", 1)),
    ("sg-5", put(f"{VPC}/SecurityGroupIds", [f"sg-{i}" for i in range(5)])),
    ("subnets-16", put(f"{VPC}/Subnets", [f"subnet-{i}" for i in range(16)])),
    ("subnet-32", put(f"{VPC}/Subnets", ["subnet-" + "0" * 25])),
    ("tags-50", put("/Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(50)])),
    ("tags-unicode", put("/Tags", [{"Key": "Équipe données", "Value": "数据 ٣ team_a.b:c/d=e+f-g@h"}])),
    ("tag-empty-value", put("/Tags", [{"Key": "k" * 128, "Value": ""}])),
    ("tag-value-256", put("/Tags", [{"Key": "k", "Value": "v" * 256}])),
]


@pytest.mark.parametrize("mutation,pointer,words", [c[1:] for c in FAILING], ids=[c[0] for c in FAILING])
def test_each_constraint_fails_once_with_a_clear_message(mutation, pointer, words):
    data = copy.deepcopy(GOOD)
    mutation(data)
    found = violations(data)
    assert len(found) == 1, [v.message for v in found]
    assert found[0].pointer == pointer
    assert words in found[0].message


@pytest.mark.parametrize("mutation", [c[1] for c in PASSING], ids=[c[0] for c in PASSING])
def test_each_constraint_passes_at_its_bound(mutation):
    data = copy.deepcopy(GOOD)
    mutation(data)
    assert [v.message for v in violations(data)] == []


def test_every_processing_instance_type_of_the_model_passes():
    types = load_schema()["properties"]["ProcessingResources"]["properties"]["ClusterConfig"]["properties"]["InstanceType"]["enum"]
    families = {t.rsplit(".", 1)[0] for t in types}
    # contract section 5: the CPU and GPU families, and no Graviton type
    assert {"ml.t3", "ml.m5", "ml.r5d", "ml.c7i", "ml.p3", "ml.g4dn", "ml.g6e", "ml.p5", "ml.g7e"} <= families
    assert not any(t.split(".")[1].endswith("g") and t.split(".")[1][1:-1].isdigit() for t in types)
    for instance_type in types:
        data = copy.deepcopy(GOOD)
        data["ProcessingResources"]["ClusterConfig"]["InstanceType"] = instance_type
        assert violations(data) == []


def test_long_valid_name_is_one_finding_about_its_length():
    data = copy.deepcopy(GOOD)
    data["ProcessingJobName"] = "a" * 71
    found = violations(data)
    assert [v.message for v in found] == ["ProcessingJobName is 71 characters; at most 63"]


def test_local_path_prefix_and_uniqueness_are_not_schema():
    data = copy.deepcopy(GOOD)
    data["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/data/in"
    data["ProcessingInputs"][1]["DatasetDefinition"]["LocalPath"] = "/data/in"
    assert violations(data) == []  # SM302/SM303 own these


def test_schema_records_the_api_model_and_is_valid_draft_2020_12():
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    model = api_model()
    assert model["apiVersion"] == "2017-07-24" and "botocore" in model["source"]


def test_every_pattern_is_anchored():
    def patterns(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern":
                    yield value
                else:
                    yield from patterns(value)
        elif isinstance(node, list):
            for item in node:
                yield from patterns(item)

    found = list(patterns(load_schema()))
    assert len(found) >= 10
    assert all(p.startswith("^(?:") and p.endswith(")$(?![\\s\\S])") for p in found)
