output "bucket_names" {
  description = "Lake area => bucket name, as created."
  value       = { for area, b in minio_s3_bucket.this : area => b.bucket }
}
