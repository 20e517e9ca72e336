"""Lambda Cloud GPU pool: API client, pure scaling policy and a Pulumi dynamic provider."""

from .client import (
    DEFAULT_BASE_URL,
    InsufficientCapacityError,
    LambdaApiError,
    LambdaCloudClient,
)
from .provider import LambdaGpuPool, LambdaGpuPoolProvider, LambdaPoolScalingError
from .scaling import PoolInstance, ScalingPlan, instance_name, plan_scaling

__all__ = [
    "DEFAULT_BASE_URL",
    "InsufficientCapacityError",
    "LambdaApiError",
    "LambdaCloudClient",
    "LambdaGpuPool",
    "LambdaGpuPoolProvider",
    "LambdaPoolScalingError",
    "PoolInstance",
    "ScalingPlan",
    "instance_name",
    "plan_scaling",
]
