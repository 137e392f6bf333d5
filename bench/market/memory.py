"""The platform's memory by role: the package's `marketpulse.platform.memory` (also behind `marketpulse platform
memory`), re-exported so the bench's modules and tests keep their import path."""

from marketpulse.platform.memory import (
    ROLE_HOLDS,
    PlatformMemory,
    ProcessMemory,
    RoleMemory,
    jvm_heap,
    platform_memory,
    role_from_path,
    role_of,
)

__all__ = [
    "ROLE_HOLDS",
    "PlatformMemory",
    "ProcessMemory",
    "RoleMemory",
    "jvm_heap",
    "platform_memory",
    "role_from_path",
    "role_of",
]
