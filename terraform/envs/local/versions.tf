terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # Both come from the project's filesystem mirror (`marketpulse infra providers`), built from the Go module proxy.
    kafka = {
      source  = "mongey/kafka"
      version = "0.13.1"
    }
    minio = {
      source  = "aminueza/minio"
      version = "2.5.1"
    }
  }

  # State stays on this machine; `marketpulse infra apply` passes -backend-config=path=.stack/terraform/<instance>/...
  backend "local" {}
}
