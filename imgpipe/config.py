"""Deployment settings, read from `cdk.json` context, shared by the CDK stack and the local runtime.

One model, so that what `cdk deploy` configures and what `imgpipe run` emulates cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from lambdas.core import limits, memory_model
from lambdas.core.errors import InvalidRecipeError
from lambdas.core.recipe import Fit, Recipe, normalised_recipe
from lambdas.settings import SETTINGS_BY_FUNCTION, FunctionSettings, problem, variable_field
from statemachines.translator.jq_transform import JQ_TIMEOUT_SECONDS, JQ_WORKER
from statemachines.translator.script_evaluation import JAVASCRIPT_TIMEOUT_SECONDS, JAVASCRIPT_WORKER

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"
CONTEXT_NAMESPACE = "imgpipe:"

RESIZE_TASK = "image_convert_resize"
UPLOAD_TASK = "upload_toS3"
PLANNER_TASK = "image_multiple_convert_resize"
RENDER_ALL_TASK = "image_render_renditions"
# Conductor's JSON_JQ_TRANSFORM system task runs in this worker (statemachines/translator/jq_transform.py)
JQ_TASK = JQ_WORKER
WORKER_TASKS: tuple[str, ...] = (RESIZE_TASK, UPLOAD_TASK, PLANNER_TASK, RENDER_ALL_TASK, JQ_TASK)
# Conductor's INLINE/LAMBDA tasks and script conditions run in this worker (script_evaluation.py)
JAVASCRIPT_TASK = JAVASCRIPT_WORKER
# Workers deployed only when a translated workflow invokes them (V8 is a layer of its own, ~90 MB)
ON_DEMAND_WORKER_TASKS: tuple[str, ...] = (JAVASCRIPT_TASK,)
# The workers of system tasks have no task definition: their Task state's timeout is the translator's.
SYSTEM_TASK_TIMEOUT_SECONDS: dict[str, int] = {
    JQ_TASK: JQ_TIMEOUT_SECONDS,
    JAVASCRIPT_TASK: JAVASCRIPT_TIMEOUT_SECONDS,
}
# The default per-image workflow: one invocation of RENDER_ALL_TASK, deployed Express.
RENDITIONS_WORKFLOW = "image_renditions"

WorkflowType = Literal["STANDARD", "EXPRESS"]
DEFAULT_WORKFLOW_TYPES: dict[str, WorkflowType] = {RENDITIONS_WORKFLOW: "EXPRESS"}
# Step Functions' logging levels (https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html).
StateMachineLogLevel = Literal["ALL", "ERROR", "FATAL", "OFF"]
# The functions that decode sources, and whether each renders every rendition of a source in one
# invocation (decode once) or one rendition per invocation: what the memory check at synth assumes.
DECODING_TASKS: dict[str, bool] = {RESIZE_TASK: False, RENDER_ALL_TASK: True}
# Lambda's memory range (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB = 128, 10_240

# The Task state enforces the Conductor `timeoutSeconds` (its Retry/Catch understand States.Timeout);
# the function's own timeout is a backstop a little later, so the state's timeout always fires first.
DEFAULT_TASK_TIMEOUT_SECONDS = 60
FUNCTION_TIMEOUT_MARGIN_SECONDS = 5
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# Lambda's default concurrency quota per account and Region ("Concurrent executions: 1,000";
# new accounts may start lower: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
LAMBDA_DEFAULT_CONCURRENCY = 1000
# Function memory (MB) when cdk.json names none for a task. Render-all: docs/performance.md
# ("The default deployment") has the measurements behind it.
DEFAULT_MEMORY_MB: dict[str, int] = {
    RESIZE_TASK: limits.RESIZE_MEMORY_MB,
    UPLOAD_TASK: 256,
    PLANNER_TASK: 256,
    RENDER_ALL_TASK: limits.RESIZE_MEMORY_MB,
    JQ_TASK: 256,
    # peak RSS 178 MB when a script reaches the 64 MB heap limit (docs/workers.md, "javascript_evaluator")
    JAVASCRIPT_TASK: 512,
}


# The json_schema_extra key of a DeploymentConfig field that sets a worker's environment variable.
ENVIRONMENT_VARIABLE = "environmentVariable"


def worker_setting(variable: str) -> Any:
    """A cdk.json key that sets a worker's environment variable: its default and meaning are that
    variable's field in lambdas.settings; the functions' models check its bounds (DeploymentConfig
    `_worker_settings_in_bounds`), so neither is written here."""
    field = variable_field(variable)
    return Field(
        field.get_default(call_default_factory=True),
        description=field.description,
        json_schema_extra={ENVIRONMENT_VARIABLE: variable},
    )


class OutputSize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: PositiveInt
    height: PositiveInt


class DefaultRecipe(BaseModel):
    """The recipe the S3 trigger applies to every upload (the seeds' dynamic-fork input shape)."""

    model_config = ConfigDict(extra="allow")
    outputFormats: list[str] = Field(min_length=1)
    outputSizes: list[OutputSize] = Field(min_length=1)
    maintainAspectRatio: bool = True


class HttpConnection(BaseModel):
    """How one EventBridge connection of HTTP tasks authenticates (infra/http_connections.py). The
    credential stays in the Secrets Manager secret `secretName` (JSON: `apiKey`, or `username` and
    `password`); NONE sends only a fixed, non-secret `x-imgpipe-connection` header."""

    model_config = ConfigDict(extra="forbid")
    authorization: Literal["NONE", "API_KEY", "BASIC"] = "NONE"
    secretName: str | None = Field(default=None, min_length=1)
    apiKeyHeader: str = Field(default="Authorization", min_length=1)

    @model_validator(mode="after")
    def _secret_for_credentials(self) -> HttpConnection:
        if self.authorization != "NONE" and self.secretName is None:
            raise ValueError(f"secretName: {self.authorization} needs the Secrets Manager secret holding it")
        return self


class DeploymentConfig(BaseModel):
    """Everything a deployer tunes; each field is the `imgpipe:<field>` key of the cdk.json context."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field("imgpipe", pattern=r"^[a-z][a-z0-9-]{1,30}$")
    workflowType: WorkflowType = "STANDARD"
    # Per-workflow overrides of workflowType; a workflow that cannot run as Express (`.sync`
    # children, waits past 5 minutes) is deployed Standard whatever is asked (deployed_workflow_type).
    workflowTypes: dict[str, WorkflowType] = Field(default_factory=lambda: dict(DEFAULT_WORKFLOW_TYPES))
    triggerWorkflow: str = RENDITIONS_WORKFLOW
    # What every state machine logs to its log group. ERROR without execution data logs nothing for
    # a succeeded execution; ALL with execution data was ~280 KB per image on the dynamic fork.
    stateMachineLogLevel: StateMachineLogLevel = "ERROR"
    stateMachineLogExecutionData: bool = False
    defaultRecipe: DefaultRecipe = Field(
        default_factory=lambda: DefaultRecipe(
            outputFormats=["webp", "jpg"],
            outputSizes=[OutputSize(width=1200, height=1200), OutputSize(width=300, height=300)],
        )
    )
    inputPrefix: str = "uploads/"
    inputSuffixes: list[str] = Field(
        default_factory=lambda: [
            ".jpg",
            ".jpeg",
            ".png",
            ".webp",
            ".gif",
            ".avif",
            ".tif",
            ".tiff",
            ".bmp",
            ".heic",
            ".heif",
        ]
    )
    # The workers' settings (lambdas/settings.py has their defaults, bounds and meaning).
    outputPrefix: str = worker_setting("OUTPUT_PREFIX")
    cacheControl: str = worker_setting("CACHE_CONTROL")
    allowedUrlHosts: tuple[str, ...] = worker_setting("ALLOWED_URL_HOSTS")
    maxSourceBytes: int = worker_setting("MAX_SOURCE_BYTES")
    maxSourcePixels: int = worker_setting("MAX_SOURCE_PIXELS")
    maxFrames: int = worker_setting("MAX_FRAMES")
    maxOutputDimension: int = worker_setting("MAX_OUTPUT_DIMENSION")
    maxFanout: int = worker_setting("MAX_FANOUT")
    memorySize: dict[str, PositiveInt] = Field(default_factory=lambda: dict(DEFAULT_MEMORY_MB))
    logRetentionDays: PositiveInt = 30
    # the account's Lambda concurrency quota in the target Region (Service Quotas L-B99A9384): what
    # the concurrency plan fits the workers' reserved concurrency into (infra/concurrency.py)
    lambdaConcurrency: PositiveInt = LAMBDA_DEFAULT_CONCURRENCY
    # `imgpipe backfill` (statemachines/backfill.py): child executions at once, sources per child,
    # the share of items that may fail before the Map Run stops, and where its report goes.
    # Distributed Map runs at most 10,000 children at once (AWS Step Functions quotas). 10 x 10
    # invocations at ~0.13 s each keep the 4 renditions' PUTs under the 3,500 per second one S3 prefix
    # partition takes (docs/performance.md#backfill-distributed-map); raise it for slower sources.
    backfillMaxConcurrency: PositiveInt = Field(10, le=10_000)
    # A batch with a failed source fails with every source's result as its cause (about 1.5 KB each with
    # a Lambda stack trace); Step Functions keeps at most 32,768 characters of a cause.
    backfillItemsPerBatch: PositiveInt = Field(10, le=20)
    # Of the items; a failed batch counts all its items, so 50 % is "half the batches have a failed
    # source": something systemic (a broken worker, a wrong recipe), not a few corrupt images.
    backfillToleratedFailurePercentage: float = Field(50.0, ge=0, le=100)
    backfillReportPrefix: str = "backfill-reports/"
    backfillItemReader: Literal["listObjectsV2", "inventory"] = "listObjectsV2"
    removalPolicy: Literal["retain", "destroy"] = "retain"
    # Subscribed to the alarm topic (SNS sends a confirmation mail first); None: no subscription.
    alarmEmail: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    # Conductor's REST API on AWS (infra/conductor_api.py): an IAM-authorized HTTP API in front of a
    # Lambda that starts, reads, stops and redrives the deployed workflows. Off unless asked for.
    conductorApi: bool = False
    # Its stage's steady rate and burst (requests per second). API Gateway's account quota is 10,000
    # RPS per Region across all APIs, 2,500 in some Regions
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html); each call here is
    # one to a few Step Functions API calls, whose per-account token buckets the workflows share
    # (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), so a runaway
    # poller is throttled by API Gateway (429) long before it could throttle the workflows.
    conductorApiRateLimit: PositiveInt = Field(25, le=10_000)
    conductorApiBurstLimit: PositiveInt = 50
    # The EventBridge connections of HTTP tasks, by the name translator.json's http_connections gives
    # them ("default" for every other HTTP task; NONE when not listed): docs/translator.md, "HTTP"
    httpConnections: dict[str, HttpConnection] = Field(default_factory=dict)

    @field_validator("memorySize")
    @classmethod
    def _every_task_has_memory(cls, value: dict[str, int]) -> dict[str, int]:
        return DEFAULT_MEMORY_MB | value  # a cdk.json written before a task existed still deploys it

    @field_validator("inputPrefix", "backfillReportPrefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if value and not value.endswith("/"):
            raise ValueError("must be empty or end with '/'")
        return value

    @model_validator(mode="after")
    def _worker_settings_in_bounds(self) -> DeploymentConfig:
        """Build every function's settings from these values: a value its model refuses fails here,
        naming the cdk.json key, instead of at the function's first invocation."""
        for function in SETTINGS_BY_FUNCTION:
            self.worker_settings(function)
        return self

    @model_validator(mode="after")
    def _caps_fit_memory(self) -> DeploymentConfig:
        """Refuse caps the memory model says no source could reach (lambdas/core/memory_model.py):
        synth fails here instead of the function being OOM-killed on its first large upload."""
        problems = []
        for task, memory_mb in self.memorySize.items():
            key = f"{CONTEXT_NAMESPACE}memorySize.{task}"
            if not LAMBDA_MIN_MEMORY_MB <= memory_mb <= LAMBDA_MAX_MEMORY_MB:
                problems.append(
                    f"{key} is {memory_mb} MB; Lambda allows {LAMBDA_MIN_MEMORY_MB}-{LAMBDA_MAX_MEMORY_MB}"
                )
                continue
            if task not in DECODING_TASKS:
                continue
            recipes = self.default_recipes()
            recipe_sets = [recipes] if DECODING_TASKS[task] else [[recipe] for recipe in recipes]
            for gap in memory_model.shortfalls(
                memory_mb,
                recipe_sets,
                max_source_pixels=self.maxSourcePixels,
                max_frames=self.maxFrames,
                max_source_bytes=self.maxSourceBytes,
                heif=self.accepts_heif(),
            ):
                if gap.limit == "inputSuffixes":
                    ns = CONTEXT_NAMESPACE
                    problems.append(
                        f"{ns}inputSuffixes accepts .heic/.heif uploads but {key} = {memory_mb} MB cannot "
                        f"render {gap.source} at up to {ns}maxSourcePixels: it needs about "
                        f"{gap.needed_mb:,.0f} MB of the {gap.usable_mb:,.0f} MB left after the handler "
                        f"baseline and margin; raise {key} to at least {gap.memory_needed_mb:,} MB, lower "
                        f"{ns}maxSourcePixels (this memory reaches {gap.largest:,} pixels) or remove .heic "
                        "and .heif from it"
                    )
                    continue
                problems.append(
                    f"{CONTEXT_NAMESPACE}{gap.limit} cannot be reached with {key} = {memory_mb} MB: "
                    f"{gap.source} at {CONTEXT_NAMESPACE}maxSourcePixels = {self.maxSourcePixels:,} "
                    f"(with {CONTEXT_NAMESPACE}maxSourceBytes = {self.maxSourceBytes:,} held) needs about "
                    f"{gap.needed_mb:,.0f} MB of the {gap.usable_mb:,.0f} MB left after the handler baseline "
                    f"and margin; lower {CONTEXT_NAMESPACE}maxSourcePixels"
                    f"{' or ' + CONTEXT_NAMESPACE + 'maxFrames' if gap.limit == 'maxFrames' else ''} "
                    f"(this memory reaches {gap.largest:,} pixels) or raise {key} to at least "
                    f"{gap.memory_needed_mb:,} MB"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def worker_setting_keys(cls) -> dict[str, str]:
        """The fields that set a worker's environment variable, and that variable."""
        keys = {}
        for name, info in cls.model_fields.items():
            if isinstance(info.json_schema_extra, dict) and ENVIRONMENT_VARIABLE in info.json_schema_extra:
                keys[name] = str(info.json_schema_extra[ENVIRONMENT_VARIABLE])
        return keys

    def worker_settings(
        self, function: str, *, output_bucket: str = "", local_files_root: str = ""
    ) -> FunctionSettings:
        """A function's settings (lambdas.settings) from this deployment; a value its model refuses
        is a ValueError naming the cdk.json key it came from."""
        model = SETTINGS_BY_FUNCTION.get(function)
        if model is None:
            raise KeyError(f"{function} has no settings model: register one in lambdas/settings.py")
        keys = {variable: key for key, variable in self.worker_setting_keys().items()}
        values: dict[str, Any] = {
            "powertools_service_name": function,
            "output_bucket": output_bucket,
            "local_files_root": local_files_root,
        }
        values |= {variable.lower(): getattr(self, key) for variable, key in keys.items()}
        try:
            return model.from_values(
                {name: value for name, value in values.items() if name in model.model_fields}
            )
        except ValidationError as error:
            first = error.errors()[0]
            variable = model.variable(str(first["loc"][0]))
            key = keys.get(variable)
            source = f"{CONTEXT_NAMESPACE}{key} = {getattr(self, key)!r}" if key else variable
            raise ValueError(
                f"{source}: {problem(first['msg'])} (the {variable} of {function}, lambdas/settings.py)"
            ) from error

    def accepts_heif(self) -> bool:
        """Whether the trigger takes HEIC/HEIF uploads (phones send them at full size)."""
        return any(suffix.lower() in (".heic", ".heif") for suffix in self.inputSuffixes)

    def default_recipes(self) -> list[Recipe]:
        """The renditions the S3 trigger asks of every upload (`defaultRecipe`), as the workers see
        them; unknown formats are left to the planner, which refuses them by name."""
        extra = self.defaultRecipe.model_extra or {}
        fit: Fit = "contain" if self.defaultRecipe.maintainAspectRatio else "stretch"
        if extra.get("fit") in ("contain", "cover", "fill", "stretch"):
            fit = extra["fit"]
        upscale = extra.get("upscale") is True
        recipes = []
        for fmt in self.defaultRecipe.outputFormats:
            for size in self.defaultRecipe.outputSizes:
                try:
                    recipes.append(
                        normalised_recipe(
                            fmt,
                            size.width,
                            size.height,
                            fit=fit,
                            upscale=upscale,
                            gravity=extra.get("gravity"),
                        )
                    )
                except InvalidRecipeError:
                    continue
        return recipes

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeploymentConfig:
        """Build from a CDK context mapping, taking only the `imgpipe:` keys."""
        fields = {
            key[len(CONTEXT_NAMESPACE) :]: value
            for key, value in context.items()
            if key.startswith(CONTEXT_NAMESPACE)
        }
        return cls.model_validate(fields)

    @classmethod
    def from_cdk_json(cls, path: Path = CDK_JSON) -> DeploymentConfig:
        return cls.from_context(json.loads(path.read_text())["context"])

    def function_name(self, task_name: str) -> str:
        return f"{self.prefix}-{task_name}"

    def state_machine_name(self, workflow_name: str) -> str:
        return f"{self.prefix}-{workflow_name}"

    def activity_name(self, task_name: str) -> str:
        """The Step Functions activity of a SIMPLE task no Lambda worker serves (infra/activities.py)."""
        return f"{self.prefix}-{task_name}"

    def express_workflows(self, names: Iterable[str]) -> frozenset[str]:
        """The workflows this deployment asks to run as Express (before the translator's say)."""
        return frozenset(n for n in names if self.workflowTypes.get(n, self.workflowType) == "EXPRESS")

    def deployed_workflow_type(self, workflow_name: str, *, express_compatible: bool) -> WorkflowType:
        """The type a workflow's state machine gets, on AWS and in the local runtime: the
        per-workflow override or workflowType, and Standard when the translator says Express cannot
        run it (a Map of `startExecution.sync:2` children, a wait past 5 minutes)."""
        wanted = self.workflowTypes.get(workflow_name, self.workflowType)
        return "EXPRESS" if wanted == "EXPRESS" and express_compatible else "STANDARD"


def function_environment(
    task_name: str, config: DeploymentConfig, *, output_bucket: str, local_files_root: str = ""
) -> dict[str, str]:
    """The environment variables of one function, identical on AWS and in the local runtime: its
    settings model (lambdas.settings) serialised, from this deployment's values. LOCAL_FILES_ROOT is
    set only by the local runtime (`imgpipe run`, or `imgpipe serve --files-root`)."""
    settings = config.worker_settings(
        task_name, output_bucket=output_bucket, local_files_root=local_files_root
    )
    return settings.environment()


def function_timeout_seconds(task_timeout_seconds: int | None) -> int:
    """A worker function's timeout, on AWS and locally: the task's timeout plus a margin."""
    seconds = (task_timeout_seconds or DEFAULT_TASK_TIMEOUT_SECONDS) + FUNCTION_TIMEOUT_MARGIN_SECONDS
    return min(seconds, LAMBDA_MAX_TIMEOUT_SECONDS)


def backfill_definition(config: DeploymentConfig) -> Any:
    """The backfill state machine of this deployment (one definition for CDK and the local runtime)."""
    from statemachines.backfill import BackfillSettings, project_backfill_definition

    return project_backfill_definition(
        BackfillSettings(
            input_suffixes=tuple(config.inputSuffixes),
            max_concurrency=config.backfillMaxConcurrency,
            items_per_batch=config.backfillItemsPerBatch,
            tolerated_failure_percentage=config.backfillToleratedFailurePercentage,
            report_prefix=config.backfillReportPrefix,
            item_reader=config.backfillItemReader,
        )
    )


def state_machine_output_key(workflow_name: str) -> str:
    """The stack output that holds a workflow's state machine ARN (CloudFormation ids are alphanumeric)."""
    return f"StateMachineArn{workflow_name.replace('_', '')}"
