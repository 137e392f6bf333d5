terraform {
  required_version = ">= 1.9.0"

  # Licences (checked by marketpulse.deploy.licences): hashicorp/* MPL-2.0, cyrilgdn/postgresql MPL-2.0.
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.55, < 5.0"
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
    postgresql = {
      source  = "cyrilgdn/postgresql"
      version = ">= 1.26, < 2.0"
    }
  }

  # Remote state in a blob container (with lease locking; it holds the generated secrets):
  # `terraform init -backend-config=backend.hcl`.
  backend "azurerm" {}
}
