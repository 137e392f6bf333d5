terraform {
  required_version = ">= 1.9.0"

  # Licences (checked by marketpulse.deploy.licences): hashicorp/* MPL-2.0, mongey/kafka MIT,
  # cyrilgdn/postgresql MPL-2.0.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.35, < 3.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = ">= 3.0, < 4.0"
    }
    kafka = {
      source  = "mongey/kafka"
      version = "0.13.1"
    }
    postgresql = {
      source  = "cyrilgdn/postgresql"
      version = ">= 1.26, < 2.0"
    }
  }

  # Remote state in S3 with native locking (state holds the generated secrets: keep encrypt = true);
  # fill in backend.hcl (see backend.hcl.example) and `terraform init -backend-config=backend.hcl`.
  backend "s3" {}
}
