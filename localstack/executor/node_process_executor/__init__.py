"""A LocalStack Lambda runtime executor that runs Node.js functions as processes on the host."""
