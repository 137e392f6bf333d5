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

variable "sku" {
  description = "Event Hubs tier: Premium keeps events up to 90 days, Standard 7."
  type        = string
  default     = "Premium"

  validation {
    condition     = contains(["Standard", "Premium"], var.sku)
    error_message = "sku must be Standard or Premium (Basic has no Kafka endpoint)."
  }
}

variable "capacity" {
  description = "Throughput units (Standard, 1-40) or processing units (Premium: 1, 2, 4, 8 or 16)."
  type        = number
  default     = 1

  validation {
    condition     = var.capacity >= 1 && var.capacity <= 40
    error_message = "capacity must be 1-40."
  }
}

variable "accept_retention_cap" {
  description = "Allow a tier whose retention cap is shorter than the catalog's (topics listed in the capped_topics output)."
  type        = bool
  default     = false
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
  description = "Partitions of every event hub (capped at 32 on Standard, 100 on Premium)."
  type        = number
  default     = 6

  validation {
    condition     = var.partitions >= 1 && var.partitions <= 100
    error_message = "partitions must be 1-100."
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
