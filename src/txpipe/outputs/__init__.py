"""What txpipe hands to people: marts, partner copies, the dashboard, validation and run reports."""
