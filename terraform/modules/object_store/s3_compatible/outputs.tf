output "bucket_names" {
  description = "Lake area => bucket name, as created."
  value       = { for area, b in terraform_data.this : area => b.input.bucket }
}
