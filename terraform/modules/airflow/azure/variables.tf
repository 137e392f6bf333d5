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

variable "container_app_environment_id" {
  description = "Container Apps environment (modules/services/azure)."
  type        = string

  validation {
    condition     = startswith(var.container_app_environment_id, "/subscriptions/")
    error_message = "container_app_environment_id must be an Azure resource id."
  }
}

variable "identity_id" {
  description = "User-assigned identity the app runs as."
  type        = string

  validation {
    condition     = startswith(var.identity_id, "/subscriptions/")
    error_message = "identity_id must be an Azure resource id."
  }
}

variable "image" {
  description = "Image with Airflow, the DAGs and marketpulse installed."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "app_env" {
  description = "MARKETPULSE_* variables for the DAGs' tasks."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.app_env) : startswith(k, "MARKETPULSE_")])
    error_message = "app_env holds only MARKETPULSE_* variables."
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
