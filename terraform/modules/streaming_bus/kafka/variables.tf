variable "topics" {
  description = "Topic name => retention (ms) and whether it is a dead-letter topic; usually module.catalog.topics."
  type = map(object({
    retention_ms = number
    dead_letter  = bool
  }))

  validation {
    condition     = alltrue([for name, t in var.topics : can(regex("^[A-Za-z0-9._-]{1,249}$", name)) && t.retention_ms >= 60000])
    error_message = "Topic names must be 1-249 of [A-Za-z0-9._-] and retention_ms at least one minute."
  }
}

variable "partitions" {
  description = "Partitions of every topic (Settings.kafka.default_partitions); parallelism of the stream's Kafka source."
  type        = number
  default     = 3

  validation {
    condition     = var.partitions >= 1 && var.partitions <= 1024 && floor(var.partitions) == var.partitions
    error_message = "partitions must be a whole number between 1 and 1024."
  }
}

variable "replication_factor" {
  description = "Replicas of every partition: 1 on the single local broker, 3 on a managed cluster."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 2, 3], var.replication_factor)
    error_message = "replication_factor must be 1, 2 or 3."
  }
}

variable "min_insync_replicas" {
  description = "min.insync.replicas of every topic; the idempotent producer writes with acks=all."
  type        = number
  default     = 2

  validation {
    condition     = var.min_insync_replicas >= 1 && var.min_insync_replicas <= 3
    error_message = "min_insync_replicas must be between 1 and 3."
  }
}
