output "containers" {
  description = "Lake area => ADLS Gen2 container."
  value       = module.object_store.container_names
}

output "topics" {
  description = "Event hubs (topics) provisioned."
  value       = module.streaming_bus.topic_names
}

output "service_urls" {
  description = "Container App => FQDN."
  value       = module.services.urls
}

output "app_env" {
  description = "MARKETPULSE_* settings of the application (`marketpulse infra env azure --out .env`)."
  value       = local.app_env
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings."
  sensitive   = true
  value = {
    MARKETPULSE_REDIS__URL = module.online_store.url
  }
}
