"""Example model templates. Each file is a self-contained template to upload as it is."""
