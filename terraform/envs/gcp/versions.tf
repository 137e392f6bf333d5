terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }

  # Remote state in a GCS bucket (with locking): `terraform init -backend-config=backend.hcl`.
  backend "gcs" {}
}
