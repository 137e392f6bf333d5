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

variable "memory_size_gb" {
  description = "Cache size, GiB."
  type        = number
  default     = 1

  validation {
    condition     = var.memory_size_gb >= 1 && var.memory_size_gb <= 300
    error_message = "memory_size_gb must be 1-300."
  }
}

variable "ca_path" {
  description = "Where clients find the server CA file (Cloud Run mounts the secret there)."
  type        = string
  default     = "/secrets/redis-ca/ca.pem"

  validation {
    condition     = startswith(var.ca_path, "/")
    error_message = "ca_path must be an absolute path."
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
