variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "project" {
  description = "GCP project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a GCP project id."
  }
}

variable "region" {
  description = "GCP region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a GCP region such as europe-west1."
  }
}

variable "network_id" {
  description = "VPC network the service attaches to (modules/network/gcp)."
  type        = string

  validation {
    condition     = length(var.network_id) > 0
    error_message = "network_id must be set."
  }
}

variable "subnetwork_id" {
  description = "Subnetwork the service's nodes use (modules/network/gcp)."
  type        = string

  validation {
    condition     = length(var.subnetwork_id) > 0
    error_message = "subnetwork_id must be set."
  }
}

variable "service_account_email" {
  description = "Service account the workloads run as (modules/identity/gcp)."
  type        = string

  validation {
    condition     = endswith(var.service_account_email, ".iam.gserviceaccount.com")
    error_message = "service_account_email must be a service account e-mail."
  }
}

variable "image" {
  description = "MarketPulse container image (Artifact Registry)."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "services" {
  description = "Service name => args, port, public ingress and scaling."
  type = map(object({
    args          = list(string)
    port          = number
    public        = bool
    min_instances = number
    max_instances = number
  }))
  default = {
    ingest    = { args = ["ingest", "live", "alpaca"], port = 9108, public = false, min_instances = 1, max_instances = 1 }
    api       = { args = ["serve", "api"], port = 8000, public = true, min_instances = 1, max_instances = 4 }
    dashboard = { args = ["serve", "dashboard"], port = 8050, public = true, min_instances = 0, max_instances = 2 }
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_instances <= s.max_instances])
    error_message = "min_instances must not exceed max_instances."
  }
}

variable "app_env" {
  description = "MARKETPULSE_* variables of every container."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.app_env) : startswith(k, "MARKETPULSE_")])
    error_message = "app_env holds only MARKETPULSE_* variables."
  }
}

variable "secret_env" {
  description = "Environment variable => Secret Manager secret id (modules/secrets/gcp)."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.secret_env) : startswith(k, "MARKETPULSE_")])
    error_message = "secret_env holds only MARKETPULSE_* variables."
  }
}

variable "ca_secret_id" {
  description = "Secret holding Memorystore's server CA, mounted as /secrets/redis-ca/ca.pem (empty: none)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]*$", var.ca_secret_id))
    error_message = "ca_secret_id must be a Secret Manager secret id."
  }
}

variable "labels" {
  description = "Labels added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : length(k) > 0 && length(k) <= 63])
    error_message = "Labels keys must be 1-63 characters."
  }
}
