variable "account_name" {
  description = "Globally unique storage account name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.account_name))
    error_message = "account_name must be 3-24 lowercase letters or digits."
  }
}

variable "buckets" {
  description = "Lake area => container name; usually module.catalog.buckets."
  type        = map(string)

  validation {
    condition     = alltrue([for area in ["raw", "features", "models", "checkpoints"] : contains(keys(var.buckets), area)])
    error_message = "buckets must name the raw, features, models and checkpoints areas."
  }
}

variable "replication_type" {
  description = "Storage redundancy."
  type        = string
  default     = "ZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be an Azure storage redundancy."
  }
}

variable "resource_group_name" {
  description = "Resource group of the platform (modules/network/azure)."
  type        = string

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must be set."
  }
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
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
