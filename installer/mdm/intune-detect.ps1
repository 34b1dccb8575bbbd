# shadowmap agent: Intune Win32 app custom detection script.
#
# Intune counts the app as installed when this script exits 0 AND writes
# something to standard output; anything else means "not installed".
# It checks that the shadowmap-agent service is registered and that its
# executable is where the MSI puts it. It does not need the service to be
# running: the agent retries on its own, and `shadowmap-agent status`
# says why it is not reporting.
#
# Upload it unchanged ("Use a custom detection script"); run it as 64-bit
# or 32-bit, both work. It only reads; it changes nothing.

$ErrorActionPreference = 'Stop'

$serviceName = 'shadowmap-agent'
$exeName = 'shadowmap-agent.exe'

# A 32-bit PowerShell host sees "Program Files (x86)" as ProgramFiles;
# ProgramW6432 is the 64-bit folder the MSI installs into.
$programFiles = $env:ProgramW6432
if ([string]::IsNullOrEmpty($programFiles)) {
    $programFiles = $env:ProgramFiles
}
$exe = Join-Path (Join-Path $programFiles 'shadowmap') $exeName

try {
    $service = Get-Service -Name $serviceName -ErrorAction Stop
} catch {
    exit 1
}

if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) {
    exit 1
}

Write-Output ("shadowmap-agent detected: service {0}, {1}" -f $service.Status, $exe)
exit 0
