output "bucket_names" {
  description = "Lake area => bucket name."
  value       = { for area, b in google_storage_bucket.this : area => b.name }
}
