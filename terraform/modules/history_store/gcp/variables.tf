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
    condition     = length(var.project) > 0
    error_message = "project must be set."
  }
}

variable "region" {
  description = "GCP region (the zones are taken from it unless zones is set)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a GCP region such as europe-west1."
  }
}

variable "zones" {
  description = "Zones to spread the nodes over; empty: the first three zones of the region that are UP."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for z in var.zones : can(regex("^[a-z]+-[a-z]+[0-9]-[a-z]$", z))])
    error_message = "zones must be zone names such as europe-west1-b."
  }
}

variable "keyspace" {
  description = "Keyspace node 0 creates (Settings.cassandra.keyspace)."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,47}$", var.keyspace))
    error_message = "keyspace must be a lowercase identifier of at most 48 characters."
  }
}

variable "app_user" {
  description = "Cassandra role of the application."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,47}$", var.app_user))
    error_message = "app_user must be a lowercase identifier."
  }
}

variable "app_password" {
  description = "Password of app_user (letters and digits: it is spliced into CQL)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9]{16,}$", var.app_password))
    error_message = "app_password must be 16+ letters or digits."
  }
}

variable "node_count" {
  description = "Cassandra nodes (3 for replication factor 3)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1
    error_message = "node_count must be at least 1."
  }
}

variable "machine_type" {
  description = "VM type of a node."
  type        = string
  default     = "e2-standard-4"

  validation {
    condition     = length(var.machine_type) > 0
    error_message = "machine_type must be set."
  }
}

variable "disk_size_gb" {
  description = "SSD per node, GB."
  type        = number
  default     = 100

  validation {
    condition     = var.disk_size_gb >= 20
    error_message = "disk_size_gb must be at least 20."
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

variable "labels" {
  description = "Labels added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : length(k) > 0 && length(k) <= 63])
    error_message = "Labels keys must be 1-63 characters."
  }
}
