variable "subscription_id" {
  description = "Azure subscription to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
  }
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens."
  }
}

variable "storage_account_name" {
  description = "Globally unique storage account of the lake (3-24 lowercase letters and digits)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lowercase letters or digits."
  }
}

variable "bucket_prefix" {
  description = "Prefix of the lake's containers (<prefix>-raw, ...)."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,49}[a-z0-9]$", var.bucket_prefix))
    error_message = "bucket_prefix must be 3-51 lowercase letters, digits or hyphens."
  }
}

variable "image" {
  description = "MarketPulse container image the services and Airflow run."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "kafka_partitions" {
  description = "Partitions of every event hub (at most 32 on the Standard tier)."
  type        = number
  default     = 6

  validation {
    condition     = var.kafka_partitions >= 1 && var.kafka_partitions <= 32
    error_message = "kafka_partitions must be 1-32."
  }
}

variable "cosmosdb_principal_id" {
  description = "Object id of the 'Azure Cosmos DB' service principal in your tenant (for Managed Instance for Apache Cassandra)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f-]{36}$", var.cosmosdb_principal_id))
    error_message = "cosmosdb_principal_id must be a GUID."
  }
}

variable "cassandra_admin_password" {
  description = "Admin password of the Cassandra managed instance."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.cassandra_admin_password) >= 12
    error_message = "cassandra_admin_password must be at least 12 characters."
  }
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { project = "marketpulse" }

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0])
    error_message = "Tag keys must not be empty."
  }
}
