# shadowmap agent: Intune Win32 app custom detection script.
#
# Intune counts the app as installed when this script exits 0 AND writes
# something to standard output; anything else means "not installed".
# It checks that the shadowmap-agent service is registered, that its
# executable is where the MSI puts it, and that the installed version (the
# MSI writes it to HKLM\SOFTWARE\Shadowmap\Agent, value Version) is at
# least {{.MinVersion}}, the version this script was made for: an older
# agent counts as not installed, so Intune installs the newer app that
# supersedes it. It does not need the service to be running: the agent
# retries on its own, and `shadowmap-agent status` says why it is not
# reporting.
#
# Upload it unchanged ("Use a custom detection script"); run it as 64-bit
# or 32-bit, both work. It only reads; it changes nothing.

$ErrorActionPreference = 'Stop'

$serviceName = 'shadowmap-agent'
$exeName = 'shadowmap-agent.exe'
$minVersion = [version]'{{.MinVersion}}'

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

# The 64-bit registry view, which a 32-bit host would otherwise not see.
$installed = $null
try {
    $hklm = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
    $key = $hklm.OpenSubKey('SOFTWARE\Shadowmap\Agent')
    if ($null -ne $key) {
        $installed = [version][string]$key.GetValue('Version')
        $key.Close()
    }
    $hklm.Close()
} catch {
    exit 1
}
if ($null -eq $installed -or $installed -lt $minVersion) {
    exit 1
}

Write-Output ("shadowmap-agent {0} detected: service {1}, {2}" -f $installed, $service.Status, $exe)
exit 0
