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

variable "image_version" {
  description = "Composer image (composer-3-airflow-2.x)."
  type        = string
  default     = "composer-3-airflow-2.10.5"

  validation {
    condition     = startswith(var.image_version, "composer-")
    error_message = "image_version must be a Composer image version."
  }
}

variable "marketpulse_requirement" {
  description = "Version specifier of the marketpulse package installed into Composer (the DAGs import it)."
  type        = string
  default     = ">=0.1"

  validation {
    condition     = length(var.marketpulse_requirement) > 0
    error_message = "marketpulse_requirement must be set."
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
