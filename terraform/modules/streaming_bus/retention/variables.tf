variable "tier" {
  description = "Service tier whose caps apply (eventhubs_standard, eventhubs_premium)."
  type        = string

  validation {
    condition     = contains(["eventhubs_standard", "eventhubs_premium"], var.tier)
    error_message = "tier must be eventhubs_standard or eventhubs_premium."
  }
}

variable "topics" {
  description = "Topic name => retention and dead-letter flag; usually module.catalog.topics."
  type = map(object({
    retention_ms = number
    dead_letter  = bool
  }))

  validation {
    condition     = alltrue([for t in values(var.topics) : t.retention_ms > 0])
    error_message = "Every topic needs a positive retention."
  }
}

variable "partitions" {
  description = "Partitions asked for every topic."
  type        = number

  validation {
    condition     = var.partitions >= 1
    error_message = "partitions must be at least 1."
  }
}
