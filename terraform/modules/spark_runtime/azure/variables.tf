variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
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

variable "filesystem_id" {
  description = "ADLS Gen2 filesystem (https://<account>.dfs.core.windows.net/<container>) the workspace uses."
  type        = string

  validation {
    condition     = startswith(var.filesystem_id, "https://")
    error_message = "filesystem_id must be an ADLS Gen2 filesystem URL."
  }
}

variable "spark_version" {
  description = "Synapse Spark runtime version."
  type        = string
  default     = "3.4"

  validation {
    condition     = can(regex("^3\\.[0-9]+$", var.spark_version))
    error_message = "spark_version must be a Synapse Spark 3.x runtime."
  }
}

variable "max_nodes" {
  description = "Autoscale ceiling of the Spark pool."
  type        = number
  default     = 6

  validation {
    condition     = var.max_nodes >= 3
    error_message = "max_nodes must be at least 3."
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
