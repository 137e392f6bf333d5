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

variable "eventhubs_sku" {
  description = "Event Hubs tier: Premium keeps the catalog's 30-day and 14-day topics; Standard caps at 7 days."
  type        = string
  default     = "Premium"

  validation {
    condition     = contains(["Standard", "Premium"], var.eventhubs_sku)
    error_message = "eventhubs_sku must be Standard or Premium."
  }
}

variable "accept_retention_cap" {
  description = "Accept Standard's 7-day retention for topics the catalog keeps longer (listed in platform_settings)."
  type        = bool
  default     = false
}

variable "key_vault_name" {
  description = "Globally unique Key Vault name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.key_vault_name))
    error_message = "key_vault_name must be 3-24 letters, digits or hyphens."
  }
}

variable "registry_server" {
  description = "Login server of the container registry holding the images (e.g. acme.azurecr.io)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+\\.azurecr\\.io$", var.registry_server))
    error_message = "registry_server must be an ACR login server."
  }
}

variable "registry_id" {
  description = "Resource id of that registry (AKS and the Container Apps get AcrPull on it)."
  type        = string

  validation {
    condition     = can(regex("/registries/", var.registry_id))
    error_message = "registry_id must be a container registry id."
  }
}

variable "spark_image" {
  description = "The project's Spark 4.1.1 image in the registry."
  type        = string

  validation {
    condition     = length(var.spark_image) > 0
    error_message = "spark_image must be set."
  }
}

variable "airflow_image" {
  description = "The project's Airflow 3.3.2 image (repository:tag) with the marketpulse venv and the DAGs."
  type        = string

  validation {
    condition     = can(regex("^[^:]+:[^:]+$", var.airflow_image))
    error_message = "airflow_image must be repository:tag."
  }
}

variable "manage_db_roles" {
  description = "Create the PostgreSQL roles and databases with the postgresql provider; needs reach into the VNet, so a first apply from outside sets false."
  type        = bool
  default     = true
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
