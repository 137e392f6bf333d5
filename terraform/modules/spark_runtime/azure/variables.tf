variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "resource_group_name" {
  description = "Resource group of the platform."
  type        = string

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must be set."
  }
}

variable "location" {
  description = "Azure region (e.g. westeurope)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
  }
}

variable "subnet_id" {
  description = "Subnet of the nodes and pods (Azure CNI)."
  type        = string

  validation {
    condition     = can(regex("/subnets/", var.subnet_id))
    error_message = "subnet_id must be a subnet id."
  }
}

variable "service_cidr" {
  description = "Range of Kubernetes service IPs (must not overlap the VNet)."
  type        = string
  default     = "10.250.0.0/16"

  validation {
    condition     = can(cidrhost(var.service_cidr, 10))
    error_message = "service_cidr must be an IPv4 CIDR."
  }
}

variable "vm_size" {
  description = "Node VM size."
  type        = string
  default     = "Standard_D4s_v5"

  validation {
    condition     = startswith(var.vm_size, "Standard_")
    error_message = "vm_size must be an Azure VM size (Standard_*)."
  }
}

variable "node_count" {
  description = "Nodes of the default pool."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 2
    error_message = "node_count must be at least 2."
  }
}

variable "identity_id" {
  description = "User-assigned identity the workloads sign in as."
  type        = string

  validation {
    condition     = can(regex("/userAssignedIdentities/", var.identity_id))
    error_message = "identity_id must be a user-assigned identity id."
  }
}

variable "registry_id" {
  description = "Container registry the nodes pull the images from (AcrPull)."
  type        = string

  validation {
    condition     = can(regex("/registries/", var.registry_id))
    error_message = "registry_id must be a container registry id."
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

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 63])
    error_message = "Tags keys must be 1-63 characters."
  }
}

