terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
    kafka = {
      source  = "mongey/kafka"
      version = "0.13.1"
    }
  }

  # Remote state in S3 with native locking; fill in backend.hcl (see backend.hcl.example) and
  # `terraform init -backend-config=backend.hcl`.
  backend "s3" {}
}
