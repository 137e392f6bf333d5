variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "kafka_version" {
  description = "MSK Kafka version."
  type        = string
  default     = "3.9.x"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9x]+", var.kafka_version))
    error_message = "kafka_version must look like 3.9.x."
  }
}

variable "broker_count" {
  description = "Brokers; a multiple of the number of subnets (one zone each)."
  type        = number
  default     = 2

  validation {
    condition     = var.broker_count >= 2
    error_message = "MSK needs at least two brokers."
  }
}

variable "instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = startswith(var.instance_type, "kafka.")
    error_message = "instance_type must be an MSK broker type (kafka.*)."
  }
}

variable "volume_size_gb" {
  description = "EBS storage per broker, GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.volume_size_gb >= 1 && var.volume_size_gb <= 16384
    error_message = "volume_size_gb must be 1-16384."
  }
}

variable "default_partitions" {
  description = "num.partitions of the cluster (topics set their own)."
  type        = number
  default     = 3

  validation {
    condition     = var.default_partitions >= 1
    error_message = "default_partitions must be at least 1."
  }
}

variable "subnet_ids" {
  description = "Private subnet ids (two or more availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets in different availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups attached to the service's network interfaces."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group."
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
