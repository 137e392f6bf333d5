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
  description = "The VPC network."
  type        = string

  validation {
    condition     = length(var.network_id) > 0
    error_message = "network_id must be set."
  }
}

variable "subnetwork_id" {
  description = "The regional subnetwork of the nodes."
  type        = string

  validation {
    condition     = length(var.subnetwork_id) > 0
    error_message = "subnetwork_id must be set."
  }
}

variable "pods_range_name" {
  description = "Secondary range of the subnetwork for pods (modules/network/gcp)."
  type        = string
  default     = "pods"

  validation {
    condition     = length(var.pods_range_name) > 0
    error_message = "pods_range_name must be set."
  }
}

variable "services_range_name" {
  description = "Secondary range of the subnetwork for services (modules/network/gcp)."
  type        = string
  default     = "services"

  validation {
    condition     = length(var.services_range_name) > 0
    error_message = "services_range_name must be set."
  }
}

variable "master_cidr" {
  description = "/28 range of the control plane's private endpoint."
  type        = string
  default     = "172.16.0.0/28"

  validation {
    condition     = can(cidrhost(var.master_cidr, 0)) && endswith(var.master_cidr, "/28")
    error_message = "master_cidr must be an IPv4 /28."
  }
}

variable "machine_type" {
  description = "Node machine type."
  type        = string
  default     = "e2-standard-4"

  validation {
    condition     = can(regex("^[a-z0-9]+-[a-z0-9-]+$", var.machine_type))
    error_message = "machine_type must be a Compute Engine machine type."
  }
}

variable "nodes_per_zone" {
  description = "Nodes per zone of the region (a regional pool spans three zones)."
  type        = number
  default     = 1

  validation {
    condition     = var.nodes_per_zone >= 1
    error_message = "nodes_per_zone must be at least 1."
  }
}

variable "service_account_email" {
  description = "Google service account of the nodes and (through Workload Identity) of the pods."
  type        = string

  validation {
    condition     = endswith(var.service_account_email, ".iam.gserviceaccount.com")
    error_message = "service_account_email must be a service account e-mail."
  }
}

variable "namespace" {
  description = "Namespace of the platform's workloads."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "service_account" {
  description = "Kubernetes service account the workloads run as."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a DNS label."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k))])
    error_message = "Label keys must be lowercase, start with a letter, at most 63 characters."
  }
}

