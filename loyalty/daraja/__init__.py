"""The only code that speaks to Safaricom (client, token cache, payloads, URL rules, msisdn)."""
