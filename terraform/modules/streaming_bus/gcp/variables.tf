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

variable "vcpu_count" {
  description = "vCPUs of the cluster (memory follows at 4 GiB each); 3 is the minimum."
  type        = number
  default     = 3

  validation {
    condition     = var.vcpu_count >= 3
    error_message = "vcpu_count must be at least 3."
  }
}

variable "topics" {
  description = "Topic name => retention and dead-letter flag; usually module.catalog.topics."
  type = map(object({
    retention_ms = number
    dead_letter  = bool
  }))

  validation {
    condition     = length(var.topics) > 0
    error_message = "Give at least one topic."
  }
}

variable "partitions" {
  description = "Partitions of every topic."
  type        = number
  default     = 6

  validation {
    condition     = var.partitions >= 1
    error_message = "partitions must be at least 1."
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
