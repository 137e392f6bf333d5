terraform {
  required_version = ">= 1.9.0"
  required_providers {
    kafka = {
      source  = "mongey/kafka"
      version = ">= 0.13.0, < 1.0"
    }
  }
}
