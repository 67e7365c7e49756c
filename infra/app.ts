#!/usr/bin/env node
/** `cdk synth` / `cdk deploy` entry (cdk.json "app"). */
import { App } from 'aws-cdk-lib';
import { definePinApp } from './pin-app.js';

definePinApp(new App());
