terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # From the project's filesystem mirror (`marketpulse infra providers`), built from the Go module proxy.
    # Buckets need no provider: terraform_data runs the project's CLI (modules/object_store/s3_compatible).
    kafka = {
      source  = "mongey/kafka"
      version = "0.13.1"
    }
  }

  # State stays on this machine; `marketpulse infra apply` passes -backend-config=path=.stack/terraform/<instance>/...
  backend "local" {}
}
