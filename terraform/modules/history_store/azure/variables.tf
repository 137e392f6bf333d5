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

variable "vnet_id" {
  description = "The VNet (the Cosmos DB principal gets Network Contributor on it)."
  type        = string

  validation {
    condition     = startswith(var.vnet_id, "/subscriptions/")
    error_message = "vnet_id must be an Azure resource id."
  }
}

variable "subnet_id" {
  description = "Subnet the Cassandra nodes live in."
  type        = string

  validation {
    condition     = startswith(var.subnet_id, "/subscriptions/")
    error_message = "subnet_id must be an Azure resource id."
  }
}

variable "cosmosdb_principal_id" {
  description = "Object id of the 'Azure Cosmos DB' service principal in your tenant (az ad sp show --id a232010e-820c-4083-83bb-3ace5fc29d0b)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f-]{36}$", var.cosmosdb_principal_id))
    error_message = "cosmosdb_principal_id must be a GUID."
  }
}

variable "admin_password" {
  description = "Password of the cluster's cassandra admin user."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.admin_password) >= 12
    error_message = "admin_password must be at least 12 characters."
  }
}

variable "node_count" {
  description = "Nodes in the datacenter (3 for replication factor 3)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 3
    error_message = "node_count must be at least 3."
  }
}

variable "sku_name" {
  description = "VM size of the nodes."
  type        = string
  default     = "Standard_E8s_v5"

  validation {
    condition     = startswith(var.sku_name, "Standard_")
    error_message = "sku_name must be an Azure VM size."
  }
}

variable "cassandra_version" {
  description = "Cassandra version of the managed instance; azurerm 4.55 accepts 3.11 and 4.0 only (4.1/5.0 came after, decision 0010)."
  type        = string
  default     = "4.0"

  validation {
    condition     = contains(["3.11", "4.0"], var.cassandra_version)
    error_message = "cassandra_version must be 3.11 or 4.0 for the azurerm range the envs pin (>= 4.55, < 5.0)."
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
