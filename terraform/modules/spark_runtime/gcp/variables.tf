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

variable "staging_bucket" {
  description = "Bucket for job files and logs (the lake's checkpoints bucket will do)."
  type        = string

  validation {
    condition     = length(var.staging_bucket) > 0
    error_message = "staging_bucket must be set."
  }
}

variable "worker_count" {
  description = "Primary workers."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_count >= 2
    error_message = "Dataproc standard clusters need at least two workers."
  }
}

variable "machine_type" {
  description = "VM type of the master and workers."
  type        = string
  default     = "n2-standard-4"

  validation {
    condition     = length(var.machine_type) > 0
    error_message = "machine_type must be set."
  }
}

variable "image_version" {
  description = "Dataproc image (its Spark version must match the jobs' pyspark)."
  type        = string
  default     = "2.3-debian12"

  validation {
    condition     = length(var.image_version) > 0
    error_message = "image_version must be set."
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
